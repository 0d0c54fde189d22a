-- The recorder's proof on an "authenticated" audit record (wire.AuthProof,
-- DockLink §6.5), and the store's verdict on it.
--
-- proof: its JSON, '' when the record carries none; kept because the chain
-- hash covers it (a stored record's hash is recomputed when a pending
-- successor arrives).
--
-- proof_key: the recorder's enrolled public key (base64, as
-- recorders.public_key) the proof verified with when the record arrived;
-- '' when it did not (no proof, a bad one, or a recorder not enrolled
-- then). Under the "authenticated" recorder policy a record counts only
-- while proof_key is still the recorder's enrolled key: a proof is checked
-- once, and a recorder re-enrolled with another key must be proved again.
ALTER TABLE audit_records ADD COLUMN proof TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_records ADD COLUMN proof_key TEXT NOT NULL DEFAULT '';
