-- Pagination for Lapis listings: page maths, a link window and a JSON route

lapis = require "lapis"
import Model from require "lapis.db.model"

class Paginator
    new: (@model, @clause, @params = {}, opts = {}) =>
        @per_page = opts.per_page or 20
        @order = opts.order or "id desc"

    total_items: =>
        @_total or= @model\count @clause, unpack @params
        @_total

    num_pages: =>
        math.max 1, math.ceil(@total_items! / @per_page)

    clamp: (page) =>
        page = math.floor tonumber(page) or 1
        math.max 1, math.min(page, @num_pages!)

    get_page: (page) =>
        page = @clamp page
        offset = (page - 1) * @per_page
        where = if @clause then "where #{@clause} " else ""
        args = [p for p in *@params]
        table.insert args, @per_page
        table.insert args, offset
        rows = @model\select "#{where}order by #{@order} limit ? offset ?", unpack args
        return rows, page

    -- a sliding window of page numbers, e.g. 1 ... 4 5 [6] 7 8 ... 20
    window: (current, radius = 2) =>
        last = @num_pages!
        pages = {}
        add = (v) -> table.insert pages, v
        add 1
        add "gap" if current - radius > 2
        for p = math.max(2, current - radius), math.min(last - 1, current + radius)
            add p
        add "gap" if current + radius < last - 1
        add last if last > 1
        pages

    has_next: (page) => page < @num_pages!
    has_prev: (page) => page > 1


class Articles extends Model
    @timestamp: true


class App extends lapis.Application
    [articles: "/articles"]: =>
        pager = Paginator Articles, "published = ?", {true}, per_page: 10, order: "created_at desc"
        @articles, @page = pager\get_page @params.page
        @pages = pager\window @page
        @num_pages = pager\num_pages!
        @next_url = if pager\has_next @page
            @url_for("articles") .. "?page=#{@page + 1}"
        render: true

    [api_articles: "/api/articles"]: =>
        per_page = math.min tonumber(@params.per_page) or 25, 100
        pager = Paginator Articles, nil, {}, :per_page
        items, page = pager\get_page @params.page
        base = @url_for "api_articles"
        json: {
            page: page
            pages: pager\num_pages!
            total: pager\total_items!
            next: pager\has_next(page) and "#{base}?page=#{page + 1}" or nil
            prev: pager\has_prev(page) and "#{base}?page=#{page - 1}" or nil
            items: [{id: a.id, title: a.title, slug: a.slug} for a in *items]
        }
