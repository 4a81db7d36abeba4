CREATE TABLE `changes` (
	`room` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`post_seq` integer,
	`data` text,
	`at` integer NOT NULL,
	PRIMARY KEY(`room`, `seq`)
);
--> statement-breakpoint
ALTER TABLE `posts` ADD `edited_at` integer;--> statement-breakpoint
ALTER TABLE `posts` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `posts` ADD `deleted_by` text;