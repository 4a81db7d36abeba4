CREATE TABLE `post_mentions` (
	`user_id` integer NOT NULL,
	`post_id` integer NOT NULL,
	`room` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `post_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`post_id`) REFERENCES `posts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `post_mentions_user_at` ON `post_mentions` (`user_id`,`at`,`post_id`);--> statement-breakpoint
ALTER TABLE `users` ADD `mentions_seen_through` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- A post's mentions follow its text: an edit writes the new text's mentions (src/db/mentions.ts) after
-- this has removed the old ones, and a deleted post (its text emptied) mentions nobody.
CREATE TRIGGER `post_mentions_follow_message` AFTER UPDATE OF `message` ON `posts`
WHEN OLD.`message` IS NOT NEW.`message`
BEGIN
  DELETE FROM `post_mentions` WHERE `post_id` = OLD.`id`;
END;
--> statement-breakpoint
-- The mentions of the posts already in D1, by the rule of src/shared/mentions.ts written in SQL (its test
-- runs this statement against that rule): an `@` that does not follow A-Z a-z 0-9 _, then a username in any
-- case that is not followed by one of those. Each `@` is tried against every length a username can have,
-- each length one lookup in the lower(username) index. Never the author.
WITH RECURSIVE
  `at_sign` (`post_id`, `message`, `pos`) AS (
    SELECT `id`, `message`, instr(`message`, '@') FROM `posts` WHERE instr(`message`, '@') > 0
    UNION ALL
    SELECT `post_id`, `message`, `pos` + instr(substr(`message`, `pos` + 1), '@') FROM `at_sign`
    WHERE instr(substr(`message`, `pos` + 1), '@') > 0
  ),
  `name_length` (`n`) AS (
    SELECT 1 UNION ALL SELECT `n` + 1 FROM `name_length`
    WHERE `n` < (SELECT coalesce(max(length(`username`)), 0) FROM `users`)
  )
INSERT OR IGNORE INTO `post_mentions` (`user_id`, `post_id`, `room`, `at`)
SELECT `u`.`id`, `p`.`id`, `p`.`room`, `p`.`inserted_at`
FROM `at_sign` AS `a`
JOIN `name_length` AS `l`
JOIN `users` AS `u` ON lower(`u`.`username`) = lower(substr(`a`.`message`, `a`.`pos` + 1, `l`.`n`))
JOIN `posts` AS `p` ON `p`.`id` = `a`.`post_id`
WHERE (`a`.`pos` = 1 OR substr(`a`.`message`, `a`.`pos` - 1, 1) NOT GLOB '[A-Za-z0-9_]')
  AND substr(`a`.`message`, `a`.`pos` + 1 + `l`.`n`, 1) NOT GLOB '[A-Za-z0-9_]'
  AND `u`.`id` != `p`.`user_id`;
--> statement-breakpoint
-- Mentions from before this migration are not news: everyone's count in the top bar starts at zero.
UPDATE `users` SET `mentions_seen_through` = (SELECT coalesce(max(`id`), 0) FROM `posts`);
