-- Keeps `rooms` (the home page's list) in step with `posts`, whoever writes them, inside the same
-- transaction as the insert. Posts are never updated or deleted, so inserts are all it needs to follow.
INSERT INTO `rooms` (`name`, `post_count`, `last_post_at`)
SELECT `room`, count(*), max(`inserted_at`) FROM `posts` GROUP BY `room`;
--> statement-breakpoint
CREATE TRIGGER `posts_count_in_rooms` AFTER INSERT ON `posts`
BEGIN
  INSERT INTO `rooms` (`name`, `post_count`, `last_post_at`) VALUES (NEW.`room`, 1, NEW.`inserted_at`)
  ON CONFLICT (`name`) DO UPDATE SET
    `post_count` = `post_count` + 1,
    `last_post_at` = max(`last_post_at`, excluded.`last_post_at`);
END;
