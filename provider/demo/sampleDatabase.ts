// A small sample database modelled on AdventureWorks (the seeds' lab): several schemas, foreign
// keys, sequences and the 16 rows of humanresources.department. Deterministic data.

export const SAMPLE_DATABASE = 'adventureworks';

export const SAMPLE_SCHEMA_SQL = `
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE SCHEMA humanresources;
CREATE SCHEMA person;
CREATE SCHEMA production;
CREATE SCHEMA purchasing;
CREATE SCHEMA sales;

CREATE TABLE humanresources.department (
  departmentid serial PRIMARY KEY,
  name         varchar(50) NOT NULL UNIQUE,
  groupname    varchar(50) NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now()
);

CREATE TABLE person.person (
  businessentityid serial PRIMARY KEY,
  persontype       char(2) NOT NULL CHECK (persontype IN ('SC', 'IN', 'SP', 'EM', 'VC', 'GC')),
  firstname        varchar(50) NOT NULL,
  lastname         varchar(50) NOT NULL,
  emailpromotion   int NOT NULL DEFAULT 0,
  rowguid          uuid NOT NULL DEFAULT uuid_generate_v4(),
  modifieddate     timestamp NOT NULL DEFAULT now()
);

CREATE TABLE humanresources.employee (
  businessentityid int PRIMARY KEY REFERENCES person.person (businessentityid),
  jobtitle         varchar(50) NOT NULL,
  birthdate        date NOT NULL,
  hiredate         date NOT NULL,
  salariedflag     boolean NOT NULL DEFAULT true,
  vacationhours    smallint NOT NULL DEFAULT 0
);

CREATE TABLE humanresources.employeedepartmenthistory (
  businessentityid int NOT NULL REFERENCES humanresources.employee (businessentityid),
  departmentid     int NOT NULL REFERENCES humanresources.department (departmentid),
  startdate        date NOT NULL,
  enddate          date,
  PRIMARY KEY (businessentityid, departmentid, startdate)
);

CREATE TABLE production.productcategory (
  productcategoryid serial PRIMARY KEY,
  name              varchar(50) NOT NULL UNIQUE
);

CREATE TABLE production.product (
  productid         serial PRIMARY KEY,
  name              varchar(50) NOT NULL UNIQUE,
  productnumber     varchar(25) NOT NULL UNIQUE,
  productcategoryid int REFERENCES production.productcategory (productcategoryid),
  listprice         numeric(12,4) NOT NULL CHECK (listprice >= 0),
  weight            numeric(8,2),
  sellstartdate     timestamp NOT NULL,
  attributes        jsonb
);

CREATE TABLE purchasing.vendor (
  businessentityid int PRIMARY KEY REFERENCES person.person (businessentityid),
  accountnumber    varchar(15) NOT NULL,
  name             varchar(50) NOT NULL,
  creditrating     smallint NOT NULL CHECK (creditrating BETWEEN 1 AND 5)
);

CREATE TABLE sales.customer (
  customerid serial PRIMARY KEY,
  personid   int REFERENCES person.person (businessentityid),
  territory  varchar(30)
);

CREATE TABLE sales.salesorderheader (
  salesorderid serial PRIMARY KEY,
  orderdate    timestamp NOT NULL,
  customerid   int NOT NULL REFERENCES sales.customer (customerid),
  subtotal     numeric(14,4) NOT NULL DEFAULT 0,
  status       smallint NOT NULL DEFAULT 1
);

CREATE TABLE sales.salesorderdetail (
  salesorderid       int NOT NULL REFERENCES sales.salesorderheader (salesorderid) ON DELETE CASCADE,
  salesorderdetailid serial,
  productid          int NOT NULL REFERENCES production.product (productid),
  orderqty           smallint NOT NULL,
  unitprice          numeric(12,4) NOT NULL,
  PRIMARY KEY (salesorderid, salesorderdetailid)
);
CREATE INDEX salesorderdetail_product_idx ON sales.salesorderdetail (productid);
CREATE VIEW sales.vorders AS
  SELECT h.salesorderid, h.orderdate, c.territory, sum(d.orderqty * d.unitprice) AS total
    FROM sales.salesorderheader h JOIN sales.customer c USING (customerid) JOIN sales.salesorderdetail d USING (salesorderid)
   GROUP BY h.salesorderid, h.orderdate, c.territory;
`;

export const SAMPLE_DATA_SQL = `
INSERT INTO humanresources.department (name, groupname, modifieddate) VALUES
  ('Engineering', 'Research and Development', '2008-04-30'),
  ('Tool Design', 'Research and Development', '2008-04-30'),
  ('Sales', 'Sales and Marketing', '2008-04-30'),
  ('Marketing', 'Sales and Marketing', '2008-04-30'),
  ('Purchasing', 'Inventory Management', '2008-04-30'),
  ('Research and Development', 'Research and Development', '2008-04-30'),
  ('Production', 'Manufacturing', '2008-04-30'),
  ('Production Control', 'Manufacturing', '2008-04-30'),
  ('Human Resources', 'Executive General and Administration', '2008-04-30'),
  ('Finance', 'Executive General and Administration', '2008-04-30'),
  ('Information Services', 'Executive General and Administration', '2008-04-30'),
  ('Document Control', 'Quality Assurance', '2008-04-30'),
  ('Quality Assurance', 'Quality Assurance', '2008-04-30'),
  ('Facilities and Maintenance', 'Executive General and Administration', '2008-04-30'),
  ('Shipping and Receiving', 'Inventory Management', '2008-04-30'),
  ('Executive', 'Executive General and Administration', '2008-04-30');

INSERT INTO person.person (persontype, firstname, lastname, emailpromotion, rowguid, modifieddate)
SELECT (ARRAY['EM','IN','SC','VC'])[1 + g % 4], 'First' || g, 'Last' || g, g % 3, md5('p' || g)::uuid, timestamp '2014-01-01' + g * interval '1 hour'
  FROM generate_series(1, 20000) g;
INSERT INTO humanresources.employee
SELECT g, 'Job ' || (g % 40), date '1960-01-01' + (g * 7) % 12000, date '2006-01-01' + g % 3000, g % 5 <> 0, g % 100
  FROM generate_series(1, 290) g;
INSERT INTO humanresources.employeedepartmenthistory
SELECT g, 1 + g % 16, date '2006-01-01' + g % 3000, NULL FROM generate_series(1, 290) g;
INSERT INTO production.productcategory (name) VALUES ('Bikes'), ('Components'), ('Clothing'), ('Accessories');
INSERT INTO production.product (name, productnumber, productcategoryid, listprice, weight, sellstartdate, attributes)
SELECT 'Product ' || g, 'PN-' || lpad(g::text, 5, '0'), 1 + g % 4, (g % 500) * 3.99, CASE WHEN g % 3 = 0 THEN NULL ELSE g % 50 END,
       timestamp '2011-05-31' + g * interval '1 day', jsonb_build_object('color', (ARRAY['Black','Red','Silver','Blue'])[1 + g % 4], 'size', 38 + g % 12)
  FROM generate_series(1, 504) g;
INSERT INTO purchasing.vendor SELECT g, 'ACC' || g, 'Vendor ' || g, 1 + g % 5 FROM generate_series(291, 394) g;
INSERT INTO sales.customer (personid, territory) SELECT 400 + g, (ARRAY['Northwest','Northeast','Central','Southwest','Canada','France','Germany','Australia'])[1 + g % 8] FROM generate_series(1, 19000) g;
INSERT INTO sales.salesorderheader (orderdate, customerid, subtotal, status)
SELECT timestamp '2011-05-31' + g * interval '37 minutes', 1 + g % 19000, (g % 3000) * 1.75, 5 FROM generate_series(1, 31465) g;
INSERT INTO sales.salesorderdetail (salesorderid, productid, orderqty, unitprice)
SELECT 1 + g % 31465, 1 + g % 504, 1 + g % 7, (g % 400) * 2.5 FROM generate_series(1, 121317) g;
`;
