-- JSON REST API for a product catalogue, with API keys and uniform errors

lapis = require "lapis"
import Model from require "lapis.db.model"
import respond_to, json_params, capture_errors_json, yield_error, assert_error from require "lapis.application"
import assert_valid from require "lapis.validate"

class Products extends Model
  @timestamp: true

  to_json: =>
    {
      id: @id
      name: @name
      price: @price_cents / 100
      in_stock: @stock > 0
      tags: [t for t in (@tags or "")\gmatch "[^,]+"]
      updated_at: @updated_at
    }


class ApiKeys extends Model
  @primary_key: "key"


-- wraps an action so it only runs for a known, enabled API key
require_key = (fn) ->
  capture_errors_json =>
    key = @req.headers["x-api-key"]
    @api_key = key and ApiKeys\find key
    yield_error "missing or invalid API key" unless @api_key and @api_key.enabled
    fn @

product_fields = (params) ->
  assert_valid params, {
    {"name", exists: true, max_length: 80}
    {"price", exists: true, is_integer: true}
  }
  {
    name: params.name
    price_cents: tonumber params.price
    stock: tonumber(params.stock) or 0
    tags: params.tags
  }


class Api extends lapis.Application
  @path: "/api/v1"
  @name: "api_"

  @before_filter =>
    @res\add_header "Access-Control-Allow-Origin", "*"

  handle_404: =>
    status: 404, json: {errors: {"no such endpoint"}}

  [products: "/products"]: require_key respond_to {
    GET: =>
      limit = math.min tonumber(@params.limit) or 50, 200
      rows = if @params.tag
        Products\select "where tags like ? order by id limit ?", "%#{@params.tag}%", limit
      else
        Products\select "order by id limit ?", limit
      json: {count: #rows, products: [p\to_json! for p in *rows]}

    POST: json_params =>
      product = Products\create product_fields(@params)
      status: 201, json: product\to_json!
  }

  [product: "/products/:id[%d]"]: require_key respond_to {
    before: =>
      @product = assert_error Products\find(@params.id), "product not found"

    GET: => json: @product\to_json!

    PUT: json_params =>
      @product\update product_fields(@params)
      json: @product\to_json!

    DELETE: =>
      @product\delete!
      status: 204, layout: false
  }
