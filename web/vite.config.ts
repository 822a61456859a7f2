import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { readFileSync } from "node:fs";

// During UI work `npm run dev` proxies the API to a running `breeze serve`
// (BREEZE_DEV_API, default http://127.0.0.1:3901).
const api = process.env.BREEZE_DEV_API ?? "http://127.0.0.1:3901";

// `vite preview` sends the same Content-Security-Policy as the embedded console
// (crates/web/src/lib.rs), so a CSP mistake shows up before the server is rebuilt.
function embeddedCsp(): string | undefined {
  try {
    const src = readFileSync(new URL("../crates/web/src/lib.rs", import.meta.url), "utf8");
    const m = /CONTENT_SECURITY_POLICY: &str = "([^;]*(?:;[^"]*)*)";/s.exec(src);
    return m?.[1].replace(/\\\n\s*/g, "");
  } catch {
    return undefined;
  }
}
const csp = embeddedCsp();

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // Nothing is inlined as a data: URL so the CSP can stay strict.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
  preview: {
    headers: csp ? { "Content-Security-Policy": csp } : {},
  },
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/ws": { target: api, ws: true },
      "/download": { target: api, changeOrigin: false },
      "/install.sh": { target: api, changeOrigin: false },
    },
  },
});
