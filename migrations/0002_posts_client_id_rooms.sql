CREATE TABLE `rooms` (
	`name` text PRIMARY KEY NOT NULL,
	`post_count` integer NOT NULL,
	`last_post_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `posts` ADD `client_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `posts_user_client_id_unique` ON `posts` (`user_id`,`client_id`);