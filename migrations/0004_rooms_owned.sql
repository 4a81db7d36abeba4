CREATE TABLE `room_members` (
	`room` text NOT NULL,
	`user_id` integer NOT NULL,
	`role` text NOT NULL,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`room`, `user_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `room_members_user` ON `room_members` (`user_id`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `kind` text DEFAULT 'public' NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `title` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `owner_id` integer REFERENCES users(id);--> statement-breakpoint
ALTER TABLE `rooms` ADD `created_by` integer REFERENCES users(id);--> statement-breakpoint
ALTER TABLE `rooms` ADD `created_at` integer;--> statement-breakpoint
ALTER TABLE `rooms` ADD `dm_pair` text;--> statement-breakpoint
CREATE UNIQUE INDEX `rooms_dm_pair_unique` ON `rooms` (`dm_pair`);--> statement-breakpoint
CREATE INDEX `rooms_created_by` ON `rooms` (`created_by`,`created_at`);--> statement-breakpoint
-- Rooms from before rooms had owners are public, owned by their first poster (the first to speak in a
-- room is who opened it, as IRC gives the first joiner operator status), and created when that post was.
UPDATE `rooms` SET
  `owner_id` = (SELECT `user_id` FROM `posts` WHERE `posts`.`room` = `rooms`.`name` ORDER BY `seq` LIMIT 1),
  `created_by` = (SELECT `user_id` FROM `posts` WHERE `posts`.`room` = `rooms`.`name` ORDER BY `seq` LIMIT 1),
  `created_at` = (SELECT min(`inserted_at`) FROM `posts` WHERE `posts`.`room` = `rooms`.`name`)
WHERE `owner_id` IS NULL;
--> statement-breakpoint
INSERT OR IGNORE INTO `room_members` (`room`, `user_id`, `role`, `added_at`)
SELECT `name`, `owner_id`, 'owner', `created_at` FROM `rooms` WHERE `owner_id` IS NOT NULL;
