-- The search index (`posts_fts`, migration `search`) no longer takes a new post inside the statement that
-- writes it: that statement is the room's copy to D1 whose success answers the poster `ok`, and indexing
-- made every copy slower. A new post is indexed by a statement of its own right after its copy
-- (src/db/search-index.ts), which moves `posts_fts_indexed.through` on: every post whose D1 row id is at or
-- below it is in the index, as its text is now, and no other post is (row ids only grow, and a later row is
-- a later write). So an edit or a deletion touches the index only for a post already in it: FTS5's 'delete'
-- for a row it never took would corrupt it. A post edited or deleted before it was indexed needs nothing
-- here: it is indexed as it then is (a deleted post's text is empty, so it is never found).
CREATE TABLE `posts_fts_indexed` (
  `id` integer PRIMARY KEY NOT NULL CHECK (`id` = 1),
  `through` integer NOT NULL
);
--> statement-breakpoint
-- Every post already in D1 is in the index (the insert trigger took it).
INSERT INTO `posts_fts_indexed` (`id`, `through`) SELECT 1, coalesce(max(`id`), 0) FROM `posts`;
--> statement-breakpoint
DROP TRIGGER `posts_fts_insert`;
--> statement-breakpoint
DROP TRIGGER `posts_fts_update`;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_update` AFTER UPDATE OF `message` ON `posts`
WHEN OLD.`id` <= (SELECT `through` FROM `posts_fts_indexed`)
BEGIN
  INSERT INTO `posts_fts` (`posts_fts`, `rowid`, `message`) VALUES ('delete', OLD.`id`, OLD.`message`);
  INSERT INTO `posts_fts` (`rowid`, `message`) VALUES (NEW.`id`, NEW.`message`);
END;
--> statement-breakpoint
DROP TRIGGER `posts_fts_delete`;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_delete` AFTER DELETE ON `posts`
WHEN OLD.`id` <= (SELECT `through` FROM `posts_fts_indexed`)
BEGIN
  INSERT INTO `posts_fts` (`posts_fts`, `rowid`, `message`) VALUES ('delete', OLD.`id`, OLD.`message`);
END;
