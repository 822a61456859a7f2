import { z } from "zod";

export const email = z.string().trim().min(1, "Enter an e-mail address.").email("Enter a valid e-mail address.");
// The server decides the final policy; this mirrors its minimum so most mistakes show inline.
export const newPassword = z.string().min(12, "Use at least 12 characters.").max(512, "Use at most 512 characters.");
