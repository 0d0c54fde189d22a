-- Where each hole-release decision was last delivered (issue 11 item 8):
-- the dock that last docked the recorder when the decision was sent to it.
-- A recorder that docks at another dock has its decisions sent there too
-- (the collector's courier sends every decision whose sent_dock is not the
-- recorder's last dock). Only sent_dock ever changes in a row.
ALTER TABLE hole_releases ADD COLUMN sent_dock TEXT NOT NULL DEFAULT '';
