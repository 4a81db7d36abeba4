CREATE TABLE `rooms` (
	`name` text PRIMARY KEY NOT NULL,
	`post_count` integer NOT NULL,
	`last_post_at` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `posts_room_id_idx`;--> statement-breakpoint
-- SQLite adds a NOT NULL column only with a default; every writer gives `seq` (the room numbers its posts),
-- and the unique index below refuses a second post that left it out.
ALTER TABLE `posts` ADD `seq` integer NOT NULL DEFAULT 0;--> statement-breakpoint
-- Posts from before rooms numbered them keep their number: their id was already ascending in each room.
UPDATE `posts` SET `seq` = `id`;--> statement-breakpoint
ALTER TABLE `posts` ADD `client_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `posts_room_seq_unique` ON `posts` (`room`,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `posts_room_user_client_id_unique` ON `posts` (`room`,`user_id`,`client_id`);
