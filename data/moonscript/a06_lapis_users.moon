-- Lapis application: user registration and profile pages

lapis = require "lapis"
import Model from require "lapis.db.model"
import respond_to, capture_errors, assert_error from require "lapis.application"
import assert_valid from require "lapis.validate"


class Users extends Model
	@timestamp: true

	@relations: {
		{ "posts", has_many: "Posts" }
	}

	display_name: =>
		@name or @username

	url_params: =>
		"user_profile", username: @username


class App extends lapis.Application
	layout: require "views.layout"

	@before_filter =>
		if id = @session.user_id
			@current_user = Users\find id

	[index: "/"]: =>
		@page_title = "Home"
		render: true

	[user_profile: "/u/:username"]: capture_errors =>
		@user = assert_error Users\find(username: @params.username), "user not found"
		@posts = @user\get_posts!
		@page_title = "#{@user\display_name!}'s profile"
		render: "profile"

	[register: "/register"]: respond_to {
		GET: => render: true

		POST: capture_errors =>
			assert_valid @params, {
				{ "username", exists: true, min_length: 3, max_length: 24 }
				{ "email", exists: true, matches_pattern: "^[^@]+@[^@]+$" }
				{ "password", exists: true, min_length: 8 }
			}

			if Users\find username: @params.username
				@errors = { "that username is taken" }
				return render: "register", status: 409

			user = Users\create {
				username: @params.username
				email: @params.email\lower!
			}
			@session.user_id = user.id
			redirect_to: @url_for user
	}

	[logout: "/logout"]: =>
		@session.user_id = nil
		redirect_to: @url_for "index"

	[api_users: "/api/users"]: =>
		limit = math.min tonumber(@params.limit) or 20, 100
		users = Users\select "order by created_at desc limit ?", limit
		json: {
			count: #users
			users: [{ id: u.id, name: u\display_name! } for u in *users]
		}
