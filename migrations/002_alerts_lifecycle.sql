-- Alert lifecycle (src/alerts/store.ts).
--   title, reason: what the channels need to describe an alert again when it resolves.
--   notify_claim, notify_claim_expires_at: a short claim on "this notification is being sent",
--     taken in the same upsert that raises the alert, so concurrent raisers of one key notify once;
--     cleared by markNotified / releaseNotification, or it lapses (a worker died mid-send).
ALTER TABLE alerts
  ADD COLUMN title text,
  ADD COLUMN reason text,
  ADD COLUMN notify_claim text,
  ADD COLUMN notify_claim_expires_at timestamptz;
