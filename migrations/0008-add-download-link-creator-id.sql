-- Who made a link, by a stable id ("user:<heroku user id>" or "api_token:<token id>"), so a member can
-- revoke their own links after an email change and a token cannot revoke another token's links by
-- sharing its name. created_by stays the name shown in lists. Links made before this have no id;
-- their creator is still recognised by name.
alter table download_links add column created_by_id text;
