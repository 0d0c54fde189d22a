-- Where a segment's start and end come from (wire.SegmentManifest
-- time_source): 'device' (the recorder's clock over DockLink, offset
-- measured at docking) or 'file' (a legacy mass-storage recorder: file
-- names and container metadata, less trustworthy). Set by the first
-- manifest, like the claim, and never changed.
ALTER TABLE segments ADD COLUMN time_source TEXT NOT NULL DEFAULT 'device';
