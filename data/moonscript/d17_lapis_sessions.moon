-- Server-side sessions for Lapis: a random token in a cookie, the data in a table

lapis = require "lapis"
db = require "lapis.db"
random = require "resty.random"
str = require "resty.string"
import Model from require "lapis.db.model"
import Users from require "models"

COOKIE = "sid"
SHORT_TTL = 60 * 60 * 2
LONG_TTL = 60 * 60 * 24 * 30

class Sessions extends Model
	@timestamp: true
	@primary_key: "token"

	@relations: {
		{"user", belongs_to: "Users"}
	}

	@start: (user, remember = false) =>
		ttl = if remember then LONG_TTL else SHORT_TTL
		@create {
			token: str.to_hex random.bytes(24)
			user_id: user.id
			remember: remember
			expires_at: db.raw "now() + interval '#{ttl} seconds'"
		}

	@lookup: (token) =>
		return nil unless token and token\match "^%x+$"
		rows = @select "where token = ? and expires_at > now()", token
		rows[1]

	@purge_expired: =>
		db.delete @table_name!, "expires_at < now()"

	-- short sessions slide forward on every request, long ones do not
	touch: =>
		return if @remember
		@update expires_at: db.raw "now() + interval '#{SHORT_TTL} seconds'"


set_cookie = (req, value, ttl) ->
	parts = {"#{COOKIE}=#{value}", "Path=/", "HttpOnly", "SameSite=Lax"}
	table.insert parts, "Max-Age=#{ttl}" if ttl
	req.res\add_header "Set-Cookie", table.concat(parts, "; ")


class App extends lapis.Application
	@before_filter =>
		if s = Sessions\lookup @cookies[COOKIE]
			s\touch!
			@user_session = s
			@current_user = s\get_user!

	[login: "/login"]: =>
		user = Users\find_by_login @params.login or ""
		unless user and user\check_password @params.password
			return status: 403, json: {error: "invalid credentials"}
		remember = @params.remember == "1"
		s = Sessions\start user, remember
		set_cookie @, s.token, remember and LONG_TTL or nil
		json: {ok: true, user: user.username}

	[logout: "/logout"]: =>
		@user_session\delete! if @user_session
		set_cookie @, "deleted", 0
		redirect_to: "/"

	[logout_everywhere: "/logout/all"]: =>
		unless @current_user
			return redirect_to: @url_for "login"
		count = db.delete Sessions\table_name!, user_id: @current_user.id
		set_cookie @, "deleted", 0
		json: {ended: count}

	[sessions: "/account/sessions"]: =>
		unless @current_user
			return status: 401, json: {error: "login required"}
		rows = Sessions\select "where user_id = ? order by created_at desc", @current_user.id
		json: {
			sessions: for s in *rows
				{
					created: s.created_at
					expires: s.expires_at
					remembered: s.remember
					current: s.token == @user_session.token
				}
		}
