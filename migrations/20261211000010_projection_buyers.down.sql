-- Reverses 20261211000010_projection_buyers.up.sql (the index goes with the table). A binary
-- of the version before reads no buyer totals, and folds nothing into them.
DROP TABLE projection_buyers;
