// Zod's compiled fast path probes `new Function` when a schema is built, which the console's
// CSP forbids (no unsafe-eval): the probe alone reports a violation. This module is imported
// first (main.tsx), before any schema exists; the interpreted path is fast enough for forms.
import { z } from "zod";

z.config({ jitless: true });
