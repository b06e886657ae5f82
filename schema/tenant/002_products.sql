-- 002_products.sql - the tenant's product catalogue.

CREATE TABLE products (
    id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text          NOT NULL,
    description    text,
    price          numeric(10,2) NOT NULL CHECK (price >= 0),
    stock_quantity integer       NOT NULL DEFAULT 0 CHECK (stock_quantity >= 0),
    active         boolean       NOT NULL DEFAULT true,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now()
);

-- one index per `orderBy` of the `products` connection, each ending in id (the tie-break)
CREATE INDEX products_name_order ON products (name COLLATE "C", id);
CREATE INDEX products_price_order ON products (price, id);
CREATE INDEX products_created_order ON products (created_at DESC, id);
