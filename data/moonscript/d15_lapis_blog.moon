-- Lapis blog: posts with unique slugs, drafts and an author-only editor

lapis = require "lapis"
import Model from require "lapis.db.model"
import respond_to, capture_errors, assert_error, yield_error from require "lapis.application"
import assert_valid from require "lapis.validate"
import Users from require "models"

slugify = (title) ->
  slug = title\lower!\gsub("[^%w%s-]", "")\gsub("%s+", "-")
  slug\sub 1, 60


class Posts extends Model
  @timestamp: true

  @relations: {
    {"user", belongs_to: "Users"}
    {"comments", has_many: "Comments", order: "created_at asc"}
  }

  @create: (opts) =>
    base = slugify opts.title
    slug, n = base, 1
    -- keep appending a counter until the slug is free
    while @find(slug: slug)
      n += 1
      slug = "#{base}-#{n}"
    opts.slug = slug
    super opts

  @published: (limit = 20) =>
    @select "where published order by created_at desc limit ?", limit

  is_editable_by: (user) =>
    user != nil and (user.id == @user_id or user.is_admin)

  excerpt: (len = 200) =>
    return @body if #@body <= len
    @body\sub(1, len)\gsub("%s+%S*$", "") .. "..."


post_fields = (params) ->
  assert_valid params, {
    {"title", exists: true, max_length: 120}
    {"body", exists: true}
  }
  {
    title: params.title
    body: params.body
    published: params.publish == "on"
  }


class BlogApp extends lapis.Application
  @before_filter =>
    @current_user = Users\find @session.user_id if @session.user_id

  [posts: "/"]: =>
    @posts = Posts\published!
    render: true

  [post: "/post/:slug"]: capture_errors =>
    @post = assert_error Posts\find(slug: @params.slug), "post not found"
    unless @post.published or @post\is_editable_by @current_user
      yield_error "post not found"
    @comments = @post\get_comments!
    render: true

  [new_post: "/posts/new"]: respond_to {
    before: =>
      @write redirect_to: @url_for "login" unless @current_user

    GET: => render: true

    POST: capture_errors =>
      fields = post_fields @params
      fields.user_id = @current_user.id
      post = Posts\create fields
      redirect_to: @url_for("post", slug: post.slug)
  }

  [edit_post: "/post/:slug/edit"]: capture_errors respond_to {
    before: =>
      @post = assert_error Posts\find(slug: @params.slug), "post not found"
      yield_error "not allowed" unless @post\is_editable_by @current_user

    GET: => render: true

    POST: =>
      @post\update post_fields(@params)
      redirect_to: @url_for("post", slug: @post.slug)
  }
