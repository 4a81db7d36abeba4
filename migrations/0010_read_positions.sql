CREATE TABLE `read_positions` (
	`room` text NOT NULL,
	`user_id` integer NOT NULL,
	`last_read_id` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`room`, `user_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `read_positions_user` ON `read_positions` (`user_id`);--> statement-breakpoint
CREATE INDEX `post_mentions_user_room` ON `post_mentions` (`user_id`,`room`,`post_id`);--> statement-breakpoint
-- Members from before read positions: nothing already said is news to them.
INSERT INTO `read_positions` (`room`, `user_id`, `last_read_id`, `updated_at`)
SELECT `rm`.`room`, `rm`.`user_id`,
  coalesce((SELECT max(`p`.`seq`) FROM `posts` AS `p` WHERE `p`.`room` = `rm`.`room`), 0),
  CAST(unixepoch('subsec') * 1000 AS INTEGER)
FROM `room_members` AS `rm`;
