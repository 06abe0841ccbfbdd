-- Token lists are served from memory (the catalog), so nothing reads tokens
-- in name order any more; the index only cost every create and rename a
-- page write.
DROP INDEX IF EXISTS tokens_by_name;
