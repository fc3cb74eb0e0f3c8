-- Rows for PyHSS's `auc` table (schema.sql). Row 1 is PyHSS's own test fixture (tests/conftest.py,
-- create_test_db: auc_id 1, algo "0"); rows 2-6 exercise the other values of `algo` with keys made up
-- for these tests (random-looking, not published).
INSERT INTO auc (auc_id, ki, opc, amf, sqn, imsi, algo) VALUES
    (1, '3c6e0b8a9c15224a8228b9a98ca1531d', '762a2206fe0b4151ace403c86a11e479', '8000', 0, '262423403000001', '0'),
    (2, '5f1d7a3c9e2b4f60a8c1d3e5f7092b4d', '9a7c5e3f1d2b4c6a8e0f1a3b5c7d9e2f', '8000', 0, '262423403000002', '3'),
    (3, '2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b', 'c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4', '8000', 0, '262423403000003', NULL),
    (4, '7e9c1a3f5d7b9e1c3a5f7d9b1e3c5a7f', '', '8000', 0, '262423403000004', '1'),
    (5, 'd1e3f5a7c9b1d3e5f7a9c1b3d5e7f9a1', 'e2f4a6c8b0d2e4f6a8c0b2d4e6f8a0c2', '8000', 0, '262423403000005', '5'),
    (6, 'a0b1c2d3e4f5061728394a5b6c7d8e9f', 'f0e1d2c3b4a5968778695a4b3c2d1e0f', '8000', 0, '262423403000006', ' 2 ');
