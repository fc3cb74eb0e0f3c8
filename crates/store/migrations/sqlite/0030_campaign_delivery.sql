-- How a firmware campaign delivers the image (issue #19, DM-2): 'pull' (the device downloads it from
-- the Package URI 5/0/1 with Block2) or 'push' (the server writes it to Package 5/0/0 with Block1).
-- Existing campaigns keep pulling. Keep in step with the other backend's file.
ALTER TABLE firmware_campaigns ADD COLUMN delivery TEXT NOT NULL DEFAULT 'pull';
