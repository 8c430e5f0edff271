-- Main lapis application: pages, a form and a small JSON API
lapis = require "lapis"
import respond_to, capture_errors, capture_errors_json, yield_error from require "lapis.application"
import assert_valid from require "lapis.validate"
import Users, Posts from require "models"

PAGE_SIZE = 20

class App extends lapis.Application
	layout: require "views.layout"

	@before_filter =>
		if id = @session.user_id
			@current_user = Users\find id

	[index: "/"]: =>
		page = tonumber(@params.page) or 1
		@posts = Posts\select "order by created_at desc limit ? offset ?",
			PAGE_SIZE, (page - 1) * PAGE_SIZE
		@page = page
		render: true

	[user: "/u/:username"]: =>
		@user = Users\find username: @params.username
		return { status: 404, render: "not_found" } unless @user
		@posts = @user\get_posts!
		render: true

	[new_post: "/posts/new"]: respond_to {
		before: =>
			unless @current_user
				@write redirect_to: @url_for "login"

		GET: => render: true

		POST: capture_errors =>
			assert_valid @params, {
				{"title", exists: true, max_length: 120}
				{"body", exists: true}
			}
			post = Posts\create {
				user_id: @current_user.id
				title: @params.title
				body: @params.body
			}
			redirect_to: @url_for "post", id: post.id
	}

	[post: "/posts/:id[%d]"]: capture_errors =>
		@post = Posts\find @params.id
		yield_error "post not found" unless @post
		render: true

	[login: "/login"]: respond_to {
		GET: => render: true
		POST: capture_errors =>
			user = Users\find_by_login @params.login or ""
			unless user and user\check_password @params.password
				yield_error "invalid login"
			@session.user_id = user.id
			redirect_to: @url_for "index"
	}

	"/api/posts": capture_errors_json =>
		posts = Posts\select "order by id desc limit ?", 50
		json:
			count: #posts
			posts: [{id: p.id, title: p.title, author: p.user_id} for p in *posts]

	handle_404: =>
		{ status: 404, layout: false, "Not found: #{@req.parsed_url.path}" }
