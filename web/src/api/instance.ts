import { QueryClient } from "@tanstack/react-query";
import { ApiClient, ApiError } from "./client";
import { SessionTokenStore } from "../auth/tokens";

export const tokens = new SessionTokenStore();

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      // 4xx answers are final; retry network trouble and 5xx twice.
      retry: (count, e) => !(e instanceof ApiError && e.status < 500) && count < 2,
    },
  },
});

export const api = new ApiClient({
  tokens,
  onSessionExpired: () => {
    queryClient.clear();
  },
});
