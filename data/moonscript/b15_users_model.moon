-- User model with validations for a lapis application
db = require "lapis.db"
bcrypt = require "bcrypt"
import Model from require "lapis.db.model"
import assert_valid from require "lapis.validate"
import trim_filter from require "lapis.util"

class Users extends Model
	@timestamp: true

	@relations: {
		{"posts", has_many: "Posts"}
		{"profile", has_one: "UserProfiles"}
	}

	@constraints: {
		username: (value) =>
			if @check_unique_constraint "username", value
				"username already taken"
	}

	@create: (opts = {}) =>
		trim_filter opts, {"username", "email", "password"}
		assert_valid opts, {
			{"username", exists: true, min_length: 2, max_length: 25}
			{"email", exists: true, matches_pattern: "^[^@]+@[^@]+%.%w+$"}
			{"password", exists: true, min_length: 8}
		}
		opts.password_digest = @hash_password opts.password
		opts.password = nil
		opts.username = opts.username\lower!
		super opts

	@hash_password: (password) =>
		bcrypt.digest password, 10

	@find_by_login: (login) =>
		login = login\lower!
		if login\find "@"
			@find email: login
		else
			@find username: login

	@usernames_for: (ids) =>
		users = @find_all ids
		{u.id, u.username for u in *users}

	check_password: (password) =>
		return false unless @password_digest
		bcrypt.verify password, @password_digest

	url_params: (req, ...) =>
		return "user_profile", { username: @username }, ...

	display_name: => @name or @username

	is_admin: => @role == "admin"

	touch_login: =>
		@update {
			last_login_at: db.format_date!
			login_count: db.raw "login_count + 1"
		}

	recent_posts: (limit = 10) =>
		import Posts from require "models"
		Posts\select "where user_id = ? order by created_at desc limit ?", @id, limit

	-- role changes are audited, admins cannot demote themselves
	set_role: (role, actor) =>
		switch role
			when "admin", "moderator", "member"
				if actor.id == @id and role != "admin" and @is_admin!
					return nil, "cannot demote yourself"
				@update {:role}
				true
			else
				return nil, "invalid role: #{role}"

return Users
