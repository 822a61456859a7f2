import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// During UI work `npm run dev` proxies the API to a running `breeze serve`
// (BREEZE_DEV_API, default http://127.0.0.1:3901).
const api = process.env.BREEZE_DEV_API ?? "http://127.0.0.1:3901";

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
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/ws": { target: api, ws: true },
    },
  },
});
