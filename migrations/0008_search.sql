-- Full-text search over posts (src/db/search.ts): an FTS5 index whose text stays in `posts` (an external
-- content table, so no message is stored twice). The triggers keep it in step with `posts` whoever writes
-- them, inside the same statement: a new post is found at once, an edited post by its new text only, a
-- deleted one (its text emptied, or its row gone) never. Words are matched by their stem (porter: "deploys"
-- finds "deploy") and without accents.
CREATE VIRTUAL TABLE `posts_fts` USING fts5(
  `message`,
  content = 'posts',
  content_rowid = 'id',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE TRIGGER `posts_fts_insert` AFTER INSERT ON `posts`
BEGIN
  INSERT INTO `posts_fts` (`rowid`, `message`) VALUES (NEW.`id`, NEW.`message`);
END;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_update` AFTER UPDATE OF `message` ON `posts`
BEGIN
  INSERT INTO `posts_fts` (`posts_fts`, `rowid`, `message`) VALUES ('delete', OLD.`id`, OLD.`message`);
  INSERT INTO `posts_fts` (`rowid`, `message`) VALUES (NEW.`id`, NEW.`message`);
END;
--> statement-breakpoint
CREATE TRIGGER `posts_fts_delete` AFTER DELETE ON `posts`
BEGIN
  INSERT INTO `posts_fts` (`posts_fts`, `rowid`, `message`) VALUES ('delete', OLD.`id`, OLD.`message`);
END;
--> statement-breakpoint
-- Every post already in D1.
INSERT INTO `posts_fts` (`posts_fts`) VALUES ('rebuild');
