-- Login flow for Lapis: CSRF checks, lockout after failures, safe return_to

lapis = require "lapis"
csrf = require "lapis.csrf"
import respond_to, capture_errors, yield_error from require "lapis.application"
import Users, LoginAttempts from require "models"

MAX_FAILURES = 5
LOCKOUT_MINUTES = 15

-- only local paths are allowed as redirect targets, never another host
safe_return_to = (path) ->
	return "/" unless type(path) == "string"
	return "/" unless path\match "^/[^/]"
	path

recent_failures = (login) ->
	window = "interval '#{LOCKOUT_MINUTES} minutes'"
	LoginAttempts\count "login = ? and not success and created_at > now() - #{window}", login

record_attempt = (login, ip, success) ->
	LoginAttempts\create {
		:login
		:ip
		:success
	}


class AuthApp extends lapis.Application
	@before_filter =>
		@csrf_token = csrf.generate_token @
		if @session.user_id
			@current_user = Users\find @session.user_id

	[login: "/login"]: respond_to {
		before: =>
			if @current_user
				@write redirect_to: safe_return_to @params.return_to

		GET: =>
			@return_to = safe_return_to @params.return_to
			render: true

		POST: capture_errors {
			on_error: =>
				@return_to = safe_return_to @params.return_to
				render: "login", status: 422

			=>
				csrf.assert_token @
				login = (@params.login or "")\lower!
				if recent_failures(login) >= MAX_FAILURES
					yield_error "Too many attempts, try again in #{LOCKOUT_MINUTES} minutes"
				user = Users\find_by_login login
				ok = user and user\check_password @params.password
				record_attempt login, ngx.var.remote_addr, ok and true or false
				yield_error "Wrong username or password" unless ok
				@session.user_id = user.id
				@session.logged_in_at = os.time!
				redirect_to: safe_return_to @params.return_to
		}
	}

	[logout: "/logout"]: =>
		csrf.assert_token @
		@session.user_id = nil
		@session.logged_in_at = nil
		redirect_to: @url_for "login"

	-- sensitive pages demand a login from the last ten minutes
	[change_password: "/account/password"]: respond_to {
		before: =>
			logged_in_at = @session.logged_in_at or 0
			fresh = os.time! - logged_in_at < 600
			unless @current_user and fresh
				back = ngx.escape_uri @req.parsed_url.path
				@write redirect_to: @url_for("login") .. "?return_to=" .. back

		GET: => render: true

		POST: capture_errors =>
			csrf.assert_token @
			password = @params.password or ""
			yield_error "Passwords do not match" if password != @params.confirm
			yield_error "Password is too short" if #password < 10
			@current_user\set_password password
			redirect_to: "/account"
	}
