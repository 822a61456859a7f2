//! Webhook triggers: HMAC-SHA256 signature, timestamp window and replay guard.
