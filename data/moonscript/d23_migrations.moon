-- Database migrations for the blog: each key runs once, in ascending order

db = require "lapis.db"
schema = require "lapis.db.schema"
import create_table, add_column, create_index, drop_index, types from schema
import serial, varchar, text, integer, boolean, time, foreign_key from types

{
  [1700000001]: ->
    create_table "users", {
      {"id", serial}
      {"username", varchar}
      {"email", varchar}
      {"password_digest", varchar}
      {"is_admin", boolean default: false}
      {"created_at", time}
      {"updated_at", time}
      "PRIMARY KEY (id)"
    }
    create_index "users", "username", unique: true
    create_index "users", "email", unique: true

  [1700000002]: ->
    create_table "posts", {
      {"id", serial}
      {"user_id", foreign_key}
      {"title", varchar}
      {"slug", varchar}
      {"body", text}
      {"published", boolean default: false}
      {"created_at", time}
      {"updated_at", time}
      "PRIMARY KEY (id)"
    }
    create_index "posts", "slug", unique: true
    create_index "posts", "user_id", "created_at"

  [1700000003]: ->
    create_table "comments", {
      {"id", serial}
      {"post_id", foreign_key}
      {"user_id", foreign_key}
      {"parent_id", foreign_key null: true}
      {"body", text null: true}
      {"status", integer default: 1}
      {"created_at", time}
      {"updated_at", time}
      "PRIMARY KEY (id)"
    }
    create_index "comments", "post_id", "created_at"

  [1700000004]: ->
    -- server-side sessions keyed by a random token
    create_table "sessions", {
      {"token", varchar}
      {"user_id", foreign_key}
      {"remember", boolean default: false}
      {"expires_at", time}
      {"created_at", time}
      {"updated_at", time}
      "PRIMARY KEY (token)"
    }
    create_index "sessions", "user_id"

  [1700000005]: ->
    add_column "posts", "views_count", integer default: 0
    -- backfill from the old per-view table, then get rid of it
    db.query [[
      update posts set views_count = coalesce(
        (select count(*) from post_views where post_views.post_id = posts.id), 0)
    ]]
    db.query "drop table if exists post_views"

  [1700000006]: ->
    -- replaced by the composite index below
    drop_index "posts", "user_id", "created_at"
    create_index "posts", "user_id", "published", "created_at"
}
