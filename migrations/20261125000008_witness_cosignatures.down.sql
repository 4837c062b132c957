DROP TABLE witness_cosignatures;
