-- JSON API for a todo list, written as a Lapis application

lapis = require "lapis"
db = require "lapis.db"
import Model from require "lapis.db.model"
import respond_to, json_params, capture_errors_json, yield_error from require "lapis.application"


class Todos extends Model
  @timestamp: true

  @for_user: (user_id, done = nil) =>
    clause = { :user_id }
    clause.done = done unless done == nil
    @select "where #{db.encode_clause clause} order by position asc"

  toggle: =>
    @update done: not @done

  serialize: =>
    {
      id: @id
      title: @title
      done: @done
      tags: [tag for tag in (@tags or "")\gmatch "[^,]+"]
    }


find_todo = (req) ->
  todo = Todos\find req.params.id
  yield_error "todo not found" unless todo
  yield_error "forbidden" unless todo.user_id == req.current_user.id
  todo


class TodoApp extends lapis.Application
  @before_filter =>
    @current_user = { id: tonumber(@req.headers["x-user-id"]) or 0 }

  "/todos": capture_errors_json json_params respond_to {
    GET: =>
      filter = switch @params.filter
        when "done" then true
        when "open" then false
        else nil
      todos = Todos\for_user @current_user.id, filter
      json: [t\serialize! for t in *todos]

    POST: =>
      title = @params.title
      yield_error "title is required" unless title and #title > 0
      todo = Todos\create {
        user_id: @current_user.id
        :title
        done: false
        tags: @params.tags
        position: db.raw "coalesce((select max(position) from todos), 0) + 1"
      }
      status: 201, json: todo\serialize!
  }

  "/todos/:id": capture_errors_json json_params respond_to {
    PUT: =>
      todo = find_todo @
      with todo
        \update title: @params.title if @params.title
        \toggle! if @params.toggle
      json: todo\serialize!

    DELETE: =>
      todo = find_todo @
      todo\delete!
      status: 204, layout: false
  }

  "/stats": =>
    rows = db.query [[
      select count(*) as total,
        sum(case when done then 1 else 0 end) as finished
      from todos where user_id = ?
    ]], @current_user.id
    {:total, :finished} = rows[1]
    json: {
      :total
      finished: finished or 0
      percent: total > 0 and math.floor(100 * (finished or 0) / total) or 0
    }
