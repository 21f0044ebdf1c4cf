// The production and purchasing tables of the AdventureWorks sample (schema.ts has the rest, and says
// where the definitions come from).

const PRODUCTION_PARTS = `
CREATE TABLE production.billofmaterials (
  billofmaterialsid serial,
  productassemblyid int NULL,
  componentid int NOT NULL,
  startdate timestamp NOT NULL DEFAULT now(),
  enddate timestamp NULL,
  unitmeasurecode char(3) NOT NULL,
  bomlevel smallint NOT NULL,
  perassemblyqty decimal(8, 2) NOT NULL DEFAULT 1.00,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_BillOfMaterials_EndDate" CHECK (enddate > startdate OR enddate IS NULL),
  CONSTRAINT "CK_BillOfMaterials_ProductAssemblyID" CHECK (productassemblyid <> componentid),
  CONSTRAINT "CK_BillOfMaterials_BOMLevel" CHECK ((productassemblyid IS NULL AND bomlevel = 0 AND perassemblyqty = 1.00)
    OR (productassemblyid IS NOT NULL AND bomlevel >= 1)),
  CONSTRAINT "CK_BillOfMaterials_PerAssemblyQty" CHECK (perassemblyqty >= 1.00),
  CONSTRAINT "PK_BillOfMaterials_BillOfMaterialsID" PRIMARY KEY (billofmaterialsid)
);
CREATE TABLE production.culture (
  cultureid char(6) NOT NULL,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Culture_CultureID" PRIMARY KEY (cultureid)
);
CREATE TABLE production.document (
  title varchar(50) NOT NULL,
  owner int NOT NULL,
  folderflag "Flag" NOT NULL DEFAULT false,
  filename varchar(400) NOT NULL,
  fileextension varchar(8) NULL,
  revision char(5) NOT NULL,
  changenumber int NOT NULL DEFAULT 0,
  status smallint NOT NULL,
  documentsummary text NULL,
  document bytea NULL,
  rowguid uuid NOT NULL UNIQUE DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  documentnode varchar NOT NULL DEFAULT '/',
  CONSTRAINT "CK_Document_Status" CHECK (status BETWEEN 1 AND 3),
  CONSTRAINT "PK_Document_DocumentNode" PRIMARY KEY (documentnode)
);
CREATE TABLE production.productcategory (
  productcategoryid serial,
  name "Name" NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductCategory_ProductCategoryID" PRIMARY KEY (productcategoryid)
);
CREATE TABLE production.productsubcategory (
  productsubcategoryid serial,
  productcategoryid int NOT NULL,
  name "Name" NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductSubcategory_ProductSubcategoryID" PRIMARY KEY (productsubcategoryid)
);
CREATE TABLE production.productmodel (
  productmodelid serial,
  name "Name" NOT NULL,
  catalogdescription xml NULL,
  instructions xml NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductModel_ProductModelID" PRIMARY KEY (productmodelid)
);
CREATE TABLE production.product (
  productid serial,
  name "Name" NOT NULL,
  productnumber varchar(25) NOT NULL,
  makeflag "Flag" NOT NULL DEFAULT true,
  finishedgoodsflag "Flag" NOT NULL DEFAULT true,
  color varchar(15) NULL,
  safetystocklevel smallint NOT NULL,
  reorderpoint smallint NOT NULL,
  standardcost numeric NOT NULL,
  listprice numeric NOT NULL,
  size varchar(5) NULL,
  sizeunitmeasurecode char(3) NULL,
  weightunitmeasurecode char(3) NULL,
  weight decimal(8, 2) NULL,
  daystomanufacture int NOT NULL,
  productline char(2) NULL,
  class char(2) NULL,
  style char(2) NULL,
  productsubcategoryid int NULL,
  productmodelid int NULL,
  sellstartdate timestamp NOT NULL,
  sellenddate timestamp NULL,
  discontinueddate timestamp NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_Product_SafetyStockLevel" CHECK (safetystocklevel > 0),
  CONSTRAINT "CK_Product_ReorderPoint" CHECK (reorderpoint > 0),
  CONSTRAINT "CK_Product_StandardCost" CHECK (standardcost >= 0.00),
  CONSTRAINT "CK_Product_ListPrice" CHECK (listprice >= 0.00),
  CONSTRAINT "CK_Product_Weight" CHECK (weight > 0.00),
  CONSTRAINT "CK_Product_DaysToManufacture" CHECK (daystomanufacture >= 0),
  CONSTRAINT "CK_Product_ProductLine" CHECK (upper(productline) IN ('S', 'T', 'M', 'R') OR productline IS NULL),
  CONSTRAINT "CK_Product_Class" CHECK (upper(class) IN ('L', 'M', 'H') OR class IS NULL),
  CONSTRAINT "CK_Product_Style" CHECK (upper(style) IN ('W', 'M', 'U') OR style IS NULL),
  CONSTRAINT "CK_Product_SellEndDate" CHECK (sellenddate >= sellstartdate OR sellenddate IS NULL),
  CONSTRAINT "PK_Product_ProductID" PRIMARY KEY (productid)
);
CREATE TABLE production.productcosthistory (
  productid int NOT NULL,
  startdate timestamp NOT NULL,
  enddate timestamp NULL,
  standardcost numeric NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ProductCostHistory_EndDate" CHECK (enddate >= startdate OR enddate IS NULL),
  CONSTRAINT "CK_ProductCostHistory_StandardCost" CHECK (standardcost >= 0.00),
  CONSTRAINT "PK_ProductCostHistory_ProductID_StartDate" PRIMARY KEY (productid, startdate)
);
CREATE TABLE production.productdescription (
  productdescriptionid serial,
  description varchar(400) NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductDescription_ProductDescriptionID" PRIMARY KEY (productdescriptionid)
);
CREATE TABLE production.productdocument (
  productid int NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  documentnode varchar NOT NULL DEFAULT '/',
  CONSTRAINT "PK_ProductDocument_ProductID_DocumentNode" PRIMARY KEY (productid, documentnode)
);
CREATE TABLE production.location (
  locationid serial,
  name "Name" NOT NULL,
  costrate numeric NOT NULL DEFAULT 0.00,
  availability decimal(8, 2) NOT NULL DEFAULT 0.00,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_Location_CostRate" CHECK (costrate >= 0.00),
  CONSTRAINT "CK_Location_Availability" CHECK (availability >= 0.00),
  CONSTRAINT "PK_Location_LocationID" PRIMARY KEY (locationid)
);
CREATE TABLE production.productinventory (
  productid int NOT NULL,
  locationid smallint NOT NULL,
  shelf varchar(10) NOT NULL,
  bin smallint NOT NULL,
  quantity smallint NOT NULL DEFAULT 0,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ProductInventory_Bin" CHECK (bin BETWEEN 0 AND 100),
  CONSTRAINT "PK_ProductInventory_ProductID_LocationID" PRIMARY KEY (productid, locationid)
);
CREATE TABLE production.productlistpricehistory (
  productid int NOT NULL,
  startdate timestamp NOT NULL,
  enddate timestamp NULL,
  listprice numeric NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ProductListPriceHistory_EndDate" CHECK (enddate >= startdate OR enddate IS NULL),
  CONSTRAINT "CK_ProductListPriceHistory_ListPrice" CHECK (listprice > 0.00),
  CONSTRAINT "PK_ProductListPriceHistory_ProductID_StartDate" PRIMARY KEY (productid, startdate)
);
`;

const PRODUCTION_WORK = `
CREATE TABLE production.illustration (
  illustrationid serial,
  diagram xml NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Illustration_IllustrationID" PRIMARY KEY (illustrationid)
);
CREATE TABLE production.productmodelillustration (
  productmodelid int NOT NULL,
  illustrationid int NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductModelIllustration_ProductModelID_IllustrationID" PRIMARY KEY (productmodelid, illustrationid)
);
CREATE TABLE production.productmodelproductdescriptionculture (
  productmodelid int NOT NULL,
  productdescriptionid int NOT NULL,
  cultureid char(6) NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductModelProductDescriptionCulture_ProductModelID_Product"
    PRIMARY KEY (productmodelid, productdescriptionid, cultureid)
);
CREATE TABLE production.productphoto (
  productphotoid serial,
  thumbnailphoto bytea NULL,
  thumbnailphotofilename varchar(50) NULL,
  largephoto bytea NULL,
  largephotofilename varchar(50) NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductPhoto_ProductPhotoID" PRIMARY KEY (productphotoid)
);
CREATE TABLE production.productproductphoto (
  productid int NOT NULL,
  productphotoid int NOT NULL,
  "primary" "Flag" NOT NULL DEFAULT false,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ProductProductPhoto_ProductID_ProductPhotoID" PRIMARY KEY (productid, productphotoid)
);
CREATE TABLE production.productreview (
  productreviewid serial,
  productid int NOT NULL,
  reviewername "Name" NOT NULL,
  reviewdate timestamp NOT NULL DEFAULT now(),
  emailaddress varchar(50) NOT NULL,
  rating int NOT NULL,
  comments varchar(3850),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ProductReview_Rating" CHECK (rating BETWEEN 1 AND 5),
  CONSTRAINT "PK_ProductReview_ProductReviewID" PRIMARY KEY (productreviewid)
);
CREATE TABLE production.scrapreason (
  scrapreasonid serial,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ScrapReason_ScrapReasonID" PRIMARY KEY (scrapreasonid)
);
CREATE TABLE production.transactionhistory (
  transactionid serial,
  productid int NOT NULL,
  referenceorderid int NOT NULL,
  referenceorderlineid int NOT NULL DEFAULT 0,
  transactiondate timestamp NOT NULL DEFAULT now(),
  transactiontype char(1) NOT NULL,
  quantity int NOT NULL,
  actualcost numeric NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_TransactionHistory_TransactionType" CHECK (upper(transactiontype) IN ('W', 'S', 'P')),
  CONSTRAINT "PK_TransactionHistory_TransactionID" PRIMARY KEY (transactionid)
);
CREATE TABLE production.transactionhistoryarchive (
  transactionid int NOT NULL,
  productid int NOT NULL,
  referenceorderid int NOT NULL,
  referenceorderlineid int NOT NULL DEFAULT 0,
  transactiondate timestamp NOT NULL DEFAULT now(),
  transactiontype char(1) NOT NULL,
  quantity int NOT NULL,
  actualcost numeric NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_TransactionHistoryArchive_TransactionType" CHECK (upper(transactiontype) IN ('W', 'S', 'P')),
  CONSTRAINT "PK_TransactionHistoryArchive_TransactionID" PRIMARY KEY (transactionid)
);
CREATE TABLE production.unitmeasure (
  unitmeasurecode char(3) NOT NULL,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_UnitMeasure_UnitMeasureCode" PRIMARY KEY (unitmeasurecode)
);
CREATE TABLE production.workorder (
  workorderid serial,
  productid int NOT NULL,
  orderqty int NOT NULL,
  scrappedqty smallint NOT NULL,
  startdate timestamp NOT NULL,
  enddate timestamp NULL,
  duedate timestamp NOT NULL,
  scrapreasonid smallint NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_WorkOrder_OrderQty" CHECK (orderqty > 0),
  CONSTRAINT "CK_WorkOrder_ScrappedQty" CHECK (scrappedqty >= 0),
  CONSTRAINT "CK_WorkOrder_EndDate" CHECK (enddate >= startdate OR enddate IS NULL),
  CONSTRAINT "PK_WorkOrder_WorkOrderID" PRIMARY KEY (workorderid)
);
CREATE TABLE production.workorderrouting (
  workorderid int NOT NULL,
  productid int NOT NULL,
  operationsequence smallint NOT NULL,
  locationid smallint NOT NULL,
  scheduledstartdate timestamp NOT NULL,
  scheduledenddate timestamp NOT NULL,
  actualstartdate timestamp NULL,
  actualenddate timestamp NULL,
  actualresourcehrs decimal(9, 4) NULL,
  plannedcost numeric NOT NULL,
  actualcost numeric NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_WorkOrderRouting_ScheduledEndDate" CHECK (scheduledenddate >= scheduledstartdate),
  CONSTRAINT "CK_WorkOrderRouting_ActualEndDate" CHECK (actualenddate >= actualstartdate OR actualenddate IS NULL OR actualstartdate IS NULL),
  CONSTRAINT "CK_WorkOrderRouting_PlannedCost" CHECK (plannedcost > 0.00),
  CONSTRAINT "PK_WorkOrderRouting_WorkOrderID_ProductID_OperationSequence" PRIMARY KEY (workorderid, productid, operationsequence)
);
`;

export const PURCHASING_TABLES_SQL = `
CREATE TABLE purchasing.productvendor (
  productid int NOT NULL,
  businessentityid int NOT NULL,
  averageleadtime int NOT NULL,
  standardprice numeric NOT NULL,
  lastreceiptcost numeric NULL,
  lastreceiptdate timestamp NULL,
  minorderqty int NOT NULL,
  maxorderqty int NOT NULL,
  onorderqty int NULL,
  unitmeasurecode char(3) NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ProductVendor_AverageLeadTime" CHECK (averageleadtime >= 1),
  CONSTRAINT "CK_ProductVendor_StandardPrice" CHECK (standardprice > 0.00),
  CONSTRAINT "PK_ProductVendor_ProductID_BusinessEntityID" PRIMARY KEY (productid, businessentityid)
);
CREATE TABLE purchasing.purchaseorderdetail (
  purchaseorderid int NOT NULL,
  purchaseorderdetailid serial,
  duedate timestamp NOT NULL,
  orderqty smallint NOT NULL,
  productid int NOT NULL,
  unitprice numeric NOT NULL,
  receivedqty decimal(8, 2) NOT NULL,
  rejectedqty decimal(8, 2) NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_PurchaseOrderDetail_OrderQty" CHECK (orderqty > 0),
  CONSTRAINT "PK_PurchaseOrderDetail_PurchaseOrderID_PurchaseOrderDetailID" PRIMARY KEY (purchaseorderid, purchaseorderdetailid)
);
CREATE TABLE purchasing.purchaseorderheader (
  purchaseorderid serial,
  revisionnumber smallint NOT NULL DEFAULT 0,
  status smallint NOT NULL DEFAULT 1,
  employeeid int NOT NULL,
  vendorid int NOT NULL,
  shipmethodid int NOT NULL,
  orderdate timestamp NOT NULL DEFAULT now(),
  shipdate timestamp NULL,
  subtotal numeric NOT NULL DEFAULT 0.00,
  taxamt numeric NOT NULL DEFAULT 0.00,
  freight numeric NOT NULL DEFAULT 0.00,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_PurchaseOrderHeader_Status" CHECK (status BETWEEN 1 AND 4),
  CONSTRAINT "CK_PurchaseOrderHeader_ShipDate" CHECK (shipdate >= orderdate OR shipdate IS NULL),
  CONSTRAINT "PK_PurchaseOrderHeader_PurchaseOrderID" PRIMARY KEY (purchaseorderid)
);
CREATE TABLE purchasing.shipmethod (
  shipmethodid serial,
  name "Name" NOT NULL,
  shipbase numeric NOT NULL DEFAULT 0.00,
  shiprate numeric NOT NULL DEFAULT 0.00,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_ShipMethod_ShipBase" CHECK (shipbase > 0.00),
  CONSTRAINT "CK_ShipMethod_ShipRate" CHECK (shiprate > 0.00),
  CONSTRAINT "PK_ShipMethod_ShipMethodID" PRIMARY KEY (shipmethodid)
);
CREATE TABLE purchasing.vendor (
  businessentityid int NOT NULL,
  accountnumber "AccountNumber" NOT NULL,
  name "Name" NOT NULL,
  creditrating smallint NOT NULL,
  preferredvendorstatus "Flag" NOT NULL DEFAULT true,
  activeflag "Flag" NOT NULL DEFAULT true,
  purchasingwebserviceurl varchar(1024) NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_Vendor_CreditRating" CHECK (creditrating BETWEEN 1 AND 5),
  CONSTRAINT "PK_Vendor_BusinessEntityID" PRIMARY KEY (businessentityid)
);
`;

/** The 25 production tables. */
export const PRODUCTION_TABLES_SQL = PRODUCTION_PARTS + PRODUCTION_WORK;
