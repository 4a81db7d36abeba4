CREATE TABLE `room_bans` (
	`room` text NOT NULL,
	`user_id` integer NOT NULL,
	`banned_at` integer NOT NULL,
	`banned_by` integer NOT NULL,
	PRIMARY KEY(`room`, `user_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`banned_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `room_bans_user` ON `room_bans` (`user_id`);