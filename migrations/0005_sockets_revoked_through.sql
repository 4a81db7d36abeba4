ALTER TABLE `users` ADD `sockets_revoked_through` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Every revocation before this column was delivered as far as anyone knows.
UPDATE `users` SET `sockets_revoked_through` = `token_generation`;
