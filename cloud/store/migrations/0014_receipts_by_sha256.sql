-- Receipts by the SHA-256 they name: the custody job that aborts abandoned
-- multipart uploads of the evidence bucket never aborts one of an object a
-- receipt names (Store.Receipted), and asks once per such upload.
CREATE INDEX receipts_by_sha256 ON receipts (sha256);
