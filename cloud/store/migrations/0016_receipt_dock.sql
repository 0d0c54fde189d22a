-- The dock whose upload a receipt was issued for (Store.RecordReceiptFrom):
-- footage of a recorder enrolled nowhere belongs to the unit of that dock,
-- and a dock of another unit may not have it receipted as its own
-- recorder's segment (the upload endpoint's claim check, ReceiptsOf's
-- Unit). Set by the first receipt, like the rest of it, and never changed.
-- NULL: a receipt recorded before this migration, or not for an upload
-- (imports, tests): its uploader is unknown.
ALTER TABLE receipts ADD COLUMN dock TEXT;
