-- Lapis comments: threaded replies, soft deletion and a JSON endpoint

lapis = require "lapis"
db = require "lapis.db"
import Model, enum from require "lapis.db.model"
import capture_errors_json, assert_error, yield_error from require "lapis.application"
import assert_valid from require "lapis.validate"
import Posts, Users from require "models"

class Comments extends Model
  @timestamp: true

  @statuses: enum {
    visible: 1
    deleted: 2
    spam: 3
  }

  @relations: {
    {"post", belongs_to: "Posts"}
    {"user", belongs_to: "Users"}
    {"parent", belongs_to: "Comments"}
  }

  -- one flat query, turned into a tree of replies in memory
  @tree_for_post: (post) =>
    rows = @select "where post_id = ? order by created_at asc", post.id
    by_id, roots = {}, {}
    for c in *rows
      c.replies = {}
      by_id[c.id] = c
    for c in *rows
      parent = c.parent_id and by_id[c.parent_id]
      if parent
        table.insert parent.replies, c
      else
        table.insert roots, c
    roots

  soft_delete: =>
    @update status: @@statuses.deleted, body: db.NULL

  is_visible: => @status == @@statuses.visible

  serialize: =>
    {
      id: @id
      author: @user_id
      body: if @is_visible! then @body else "[removed]"
      created_at: @created_at
      replies: [r\serialize! for r in *(@replies or {})]
    }


class CommentsApp extends lapis.Application
  @before_filter =>
    @current_user = @session.user_id and Users\find @session.user_id

  "/posts/:post_id/comments": capture_errors_json =>
    post = assert_error Posts\find(@params.post_id), "no such post"
    roots = Comments\tree_for_post post
    json: {comments: [c\serialize! for c in *roots]}

  "/posts/:post_id/comments/new": capture_errors_json =>
    yield_error "login required" unless @current_user
    assert_valid @params, {
      {"body", exists: true, min_length: 2, max_length: 2000}
    }
    post = assert_error Posts\find(@params.post_id), "no such post"
    parent_id = tonumber @params.parent_id
    if parent_id
      parent = Comments\find parent_id
      yield_error "bad parent comment" unless parent and parent.post_id == post.id

    -- throttle: at most five comments a minute for each user
    recent = Comments\count "user_id = ? and created_at > now() - interval '1 minute'", @current_user.id
    yield_error "slow down" if recent >= 5

    comment = Comments\create {
      post_id: post.id
      user_id: @current_user.id
      parent_id: parent_id
      body: @params.body
      status: Comments.statuses.visible
    }
    json: {comment: comment\serialize!}, status: 201

  "/comments/:id/delete": capture_errors_json =>
    comment = assert_error Comments\find(@params.id), "no such comment"
    user = @current_user
    unless user and (user.id == comment.user_id or user.is_admin)
      yield_error "not your comment"
    comment\soft_delete!
    json: {ok: true}
