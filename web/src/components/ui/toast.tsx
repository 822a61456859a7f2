import { createContext, useCallback, useContext, useState, type ReactNode } from "react";
import { cn } from "./cn";

interface Toast {
  id: number;
  text: string;
  tone: "ok" | "danger";
}
const Ctx = createContext<(text: string, tone?: "ok" | "danger") => void>(() => {});

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback((text: string, tone: "ok" | "danger" = "ok") => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t, { id, text, tone }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 4000);
  }, []);
  return (
    <Ctx.Provider value={push}>
      {children}
      <div aria-live="polite" className="fixed bottom-4 right-4 z-50 flex flex-col gap-2">
        {toasts.map((t) => (
          <div
            key={t.id}
            className={cn("rounded-md border bg-card px-4 py-2 text-sm shadow-lg", t.tone === "danger" ? "border-danger text-danger" : "border-ok")}
          >
            {t.text}
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export function useToast() {
  return useContext(Ctx);
}
