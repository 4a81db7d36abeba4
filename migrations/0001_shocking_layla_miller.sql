CREATE TABLE `login_failures` (
	`email` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL,
	`locked_until` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `failed_login_count`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `locked_until`;