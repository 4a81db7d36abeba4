CREATE TABLE `ip_attempts` (
	`action` text NOT NULL,
	`ip` text NOT NULL,
	`window_started_at` integer NOT NULL,
	`attempts` integer NOT NULL,
	PRIMARY KEY(`action`, `ip`)
);
--> statement-breakpoint
CREATE TABLE `login_failures` (
	`email` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL,
	`locked_until` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `failed_login_count`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `locked_until`;