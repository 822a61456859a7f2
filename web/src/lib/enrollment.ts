import { api } from "../api/instance";
import type { EnrollmentKeyCreated } from "../api/types";

export interface NewEnrollmentKey {
  org_id: string;
  site_id: string;
  name: string;
  /** 1..=8760; the server's default is 24. */
  expires_in_hours?: number;
  max_uses?: number | null;
}

/** Creates a site enrollment key; the answer carries the secret and its install commands, once. */
export async function createEnrollmentKey(body: NewEnrollmentKey): Promise<EnrollmentKeyCreated> {
  return api.POST("/api/v1/enrollment-keys", { body });
}
