-- The columns of PyHSS's `auc` table that the audit importer reads, with the records of pyhss-auc.json.
CREATE TABLE auc (
    auc_id     INTEGER PRIMARY KEY,
    ki         VARCHAR(32) NOT NULL,
    opc        VARCHAR(32) NOT NULL,
    amf        VARCHAR(4) NOT NULL,
    sqn        BIGINT,
    iccid      VARCHAR(20),
    imsi       VARCHAR(18) UNIQUE,
    batch_name VARCHAR(20),
    sim_vendor VARCHAR(20),
    esim       BOOLEAN DEFAULT 0,
    algo       VARCHAR(20) DEFAULT '3'
);
INSERT INTO auc (auc_id, ki, opc, amf, sqn, iccid, imsi, algo) VALUES
    (1, '465b5ce8b199b49faa5f0a2ee238a6bc', 'cd63cb71954a9f4e48a5994e37a02baf', '8000', 1, '8900100000000000011', '001010000000101', '3'),
    (2, 'fec86ba6eb707ed08905757b1bb44b8f', '1006020f0a478bf6b699f15c062e42b3', '8000', 1, NULL, '001010000000102', ''),
    (3, '0396eb317b6d1c36', '53c15671c60a4b731c55b4a441c0bde2', '8000', 1, NULL, '001010000000103', NULL),
    (4, '9e5944aea94b81165c82fbf9f32db751', 'a64a507ae1a2a98bb88eb4210135dc87', '8000', 1, NULL, '001010000000104', '1');
