// The sales tables of the AdventureWorks sample (schema.ts has the rest, and says where the
// definitions come from).

const SALES_ORDERS = `
CREATE TABLE sales.countryregioncurrency (
  countryregioncode varchar(3) NOT NULL,
  currencycode char(3) NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_CountryRegionCurrency_CountryRegionCode_CurrencyCode" PRIMARY KEY (countryregioncode, currencycode)
);
CREATE TABLE sales.creditcard (
  creditcardid serial,
  cardtype varchar(50) NOT NULL,
  cardnumber varchar(25) NOT NULL,
  expmonth smallint NOT NULL,
  expyear smallint NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_CreditCard_CreditCardID" PRIMARY KEY (creditcardid)
);
CREATE TABLE sales.currency (
  currencycode char(3) NOT NULL,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Currency_CurrencyCode" PRIMARY KEY (currencycode)
);
CREATE TABLE sales.currencyrate (
  currencyrateid serial,
  currencyratedate timestamp NOT NULL,
  fromcurrencycode char(3) NOT NULL,
  tocurrencycode char(3) NOT NULL,
  averagerate numeric NOT NULL,
  endofdayrate numeric NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_CurrencyRate_CurrencyRateID" PRIMARY KEY (currencyrateid)
);
CREATE TABLE sales.customer (
  customerid serial,
  personid int NULL,
  storeid int NULL,
  territoryid int NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Customer_CustomerID" PRIMARY KEY (customerid)
);
CREATE TABLE sales.personcreditcard (
  businessentityid int NOT NULL,
  creditcardid int NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_PersonCreditCard_BusinessEntityID_CreditCardID" PRIMARY KEY (businessentityid, creditcardid)
);
CREATE TABLE sales.salesorderdetail (
  salesorderid int NOT NULL,
  salesorderdetailid serial,
  carriertrackingnumber varchar(25) NULL,
  orderqty smallint NOT NULL,
  productid int NOT NULL,
  specialofferid int NOT NULL,
  unitprice numeric NOT NULL,
  unitpricediscount numeric NOT NULL DEFAULT 0.0,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesOrderDetail_OrderQty" CHECK (orderqty > 0),
  CONSTRAINT "CK_SalesOrderDetail_UnitPrice" CHECK (unitprice >= 0.00),
  CONSTRAINT "CK_SalesOrderDetail_UnitPriceDiscount" CHECK (unitpricediscount >= 0.00),
  CONSTRAINT "PK_SalesOrderDetail_SalesOrderID_SalesOrderDetailID" PRIMARY KEY (salesorderid, salesorderdetailid)
);
CREATE TABLE sales.salesorderheader (
  salesorderid serial,
  revisionnumber smallint NOT NULL DEFAULT 0,
  orderdate timestamp NOT NULL DEFAULT now(),
  duedate timestamp NOT NULL,
  shipdate timestamp NULL,
  status smallint NOT NULL DEFAULT 1,
  onlineorderflag "Flag" NOT NULL DEFAULT true,
  purchaseordernumber "OrderNumber" NULL,
  accountnumber "AccountNumber" NULL,
  customerid int NOT NULL,
  salespersonid int NULL,
  territoryid int NULL,
  billtoaddressid int NOT NULL,
  shiptoaddressid int NOT NULL,
  shipmethodid int NOT NULL,
  creditcardid int NULL,
  creditcardapprovalcode varchar(15) NULL,
  currencyrateid int NULL,
  subtotal numeric NOT NULL DEFAULT 0.00,
  taxamt numeric NOT NULL DEFAULT 0.00,
  freight numeric NOT NULL DEFAULT 0.00,
  totaldue numeric,
  comment varchar(128) NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesOrderHeader_Status" CHECK (status BETWEEN 0 AND 8),
  CONSTRAINT "CK_SalesOrderHeader_DueDate" CHECK (duedate >= orderdate),
  CONSTRAINT "CK_SalesOrderHeader_ShipDate" CHECK (shipdate >= orderdate OR shipdate IS NULL),
  CONSTRAINT "PK_SalesOrderHeader_SalesOrderID" PRIMARY KEY (salesorderid)
);
CREATE TABLE sales.salesorderheadersalesreason (
  salesorderid int NOT NULL,
  salesreasonid int NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_SalesOrderHeaderSalesReason_SalesOrderID_SalesReasonID" PRIMARY KEY (salesorderid, salesreasonid)
);
`;

const SALES_PEOPLE = `
CREATE TABLE sales.salesperson (
  businessentityid int NOT NULL,
  territoryid int NULL,
  salesquota numeric NULL,
  bonus numeric NOT NULL DEFAULT 0.00,
  commissionpct numeric NOT NULL DEFAULT 0.00,
  salesytd numeric NOT NULL DEFAULT 0.00,
  saleslastyear numeric NOT NULL DEFAULT 0.00,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesPerson_SalesQuota" CHECK (salesquota > 0.00),
  CONSTRAINT "PK_SalesPerson_BusinessEntityID" PRIMARY KEY (businessentityid)
);
CREATE TABLE sales.salespersonquotahistory (
  businessentityid int NOT NULL,
  quotadate timestamp NOT NULL,
  salesquota numeric NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesPersonQuotaHistory_SalesQuota" CHECK (salesquota > 0.00),
  CONSTRAINT "PK_SalesPersonQuotaHistory_BusinessEntityID_QuotaDate" PRIMARY KEY (businessentityid, quotadate)
);
CREATE TABLE sales.salesreason (
  salesreasonid serial,
  name "Name" NOT NULL,
  reasontype "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_SalesReason_SalesReasonID" PRIMARY KEY (salesreasonid)
);
CREATE TABLE sales.salestaxrate (
  salestaxrateid serial,
  stateprovinceid int NOT NULL,
  taxtype smallint NOT NULL,
  taxrate numeric NOT NULL DEFAULT 0.00,
  name "Name" NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesTaxRate_TaxType" CHECK (taxtype BETWEEN 1 AND 3),
  CONSTRAINT "PK_SalesTaxRate_SalesTaxRateID" PRIMARY KEY (salestaxrateid)
);
CREATE TABLE sales.salesterritory (
  territoryid serial,
  name "Name" NOT NULL,
  countryregioncode varchar(3) NOT NULL,
  "group" varchar(50) NOT NULL,
  salesytd numeric NOT NULL DEFAULT 0.00,
  saleslastyear numeric NOT NULL DEFAULT 0.00,
  costytd numeric NOT NULL DEFAULT 0.00,
  costlastyear numeric NOT NULL DEFAULT 0.00,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_SalesTerritory_TerritoryID" PRIMARY KEY (territoryid)
);
CREATE TABLE sales.salesterritoryhistory (
  businessentityid int NOT NULL,
  territoryid int NOT NULL,
  startdate timestamp NOT NULL,
  enddate timestamp NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SalesTerritoryHistory_EndDate" CHECK (enddate >= startdate OR enddate IS NULL),
  CONSTRAINT "PK_SalesTerritoryHistory_BusinessEntityID_StartDate_TerritoryID" PRIMARY KEY (businessentityid, startdate, territoryid)
);
CREATE TABLE sales.shoppingcartitem (
  shoppingcartitemid serial,
  shoppingcartid varchar(50) NOT NULL,
  quantity int NOT NULL DEFAULT 1,
  productid int NOT NULL,
  datecreated timestamp NOT NULL DEFAULT now(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ShoppingCartItem_Quantity" CHECK (quantity >= 1),
  CONSTRAINT "PK_ShoppingCartItem_ShoppingCartItemID" PRIMARY KEY (shoppingcartitemid)
);
CREATE TABLE sales.specialoffer (
  specialofferid serial,
  description varchar(255) NOT NULL,
  discountpct numeric NOT NULL DEFAULT 0.00,
  type varchar(50) NOT NULL,
  category varchar(50) NOT NULL,
  startdate timestamp NOT NULL,
  enddate timestamp NOT NULL,
  minqty int NOT NULL DEFAULT 0,
  maxqty int NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_SpecialOffer_EndDate" CHECK (enddate >= startdate),
  CONSTRAINT "PK_SpecialOffer_SpecialOfferID" PRIMARY KEY (specialofferid)
);
CREATE TABLE sales.specialofferproduct (
  specialofferid int NOT NULL,
  productid int NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_SpecialOfferProduct_SpecialOfferID_ProductID" PRIMARY KEY (specialofferid, productid)
);
CREATE TABLE sales.store (
  businessentityid int NOT NULL,
  name "Name" NOT NULL,
  salespersonid int NULL,
  demographics xml NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Store_BusinessEntityID" PRIMARY KEY (businessentityid)
);
`;

/** The 19 sales tables. */
export const SALES_TABLES_SQL = SALES_ORDERS + SALES_PEOPLE;
