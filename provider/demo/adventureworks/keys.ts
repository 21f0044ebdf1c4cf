// What the AdventureWorks sample adds once its rows are in, as the port does: the foreign keys
// (named as AdventureWorks names them), a few alternate keys and indexes, three of its views (one
// pivoting with tablefunc's crosstab) and the serial sequences moved past the loaded ids.

/** [table, constraint, columns, referenced table, referenced columns, ON DELETE CASCADE]. */
type ForeignKey = readonly [string, string, string, string, string, boolean?];

const FOREIGN_KEYS: readonly ForeignKey[] = [
  ['person.address', 'FK_Address_StateProvince_StateProvinceID', 'stateprovinceid', 'person.stateprovince', 'stateprovinceid'],
  ['production.billofmaterials', 'FK_BillOfMaterials_Product_ProductAssemblyID', 'productassemblyid', 'production.product', 'productid'],
  ['production.billofmaterials', 'FK_BillOfMaterials_Product_ComponentID', 'componentid', 'production.product', 'productid'],
  [
    'production.billofmaterials',
    'FK_BillOfMaterials_UnitMeasure_UnitMeasureCode',
    'unitmeasurecode',
    'production.unitmeasure',
    'unitmeasurecode',
  ],
  ['person.businessentityaddress', 'FK_BusinessEntityAddress_Address_AddressID', 'addressid', 'person.address', 'addressid'],
  [
    'person.businessentityaddress',
    'FK_BusinessEntityAddress_AddressType_AddressTypeID',
    'addresstypeid',
    'person.addresstype',
    'addresstypeid',
  ],
  [
    'person.businessentityaddress',
    'FK_BusinessEntityAddress_BusinessEntity_BusinessEntityID',
    'businessentityid',
    'person.businessentity',
    'businessentityid',
  ],
  ['person.businessentitycontact', 'FK_BusinessEntityContact_Person_PersonID', 'personid', 'person.person', 'businessentityid'],
  [
    'person.businessentitycontact',
    'FK_BusinessEntityContact_ContactType_ContactTypeID',
    'contacttypeid',
    'person.contacttype',
    'contacttypeid',
  ],
  [
    'person.businessentitycontact',
    'FK_BusinessEntityContact_BusinessEntity_BusinessEntityID',
    'businessentityid',
    'person.businessentity',
    'businessentityid',
  ],
  [
    'sales.countryregioncurrency',
    'FK_CountryRegionCurrency_CountryRegion_CountryRegionCode',
    'countryregioncode',
    'person.countryregion',
    'countryregioncode',
  ],
  ['sales.countryregioncurrency', 'FK_CountryRegionCurrency_Currency_CurrencyCode', 'currencycode', 'sales.currency', 'currencycode'],
  ['sales.currencyrate', 'FK_CurrencyRate_Currency_FromCurrencyCode', 'fromcurrencycode', 'sales.currency', 'currencycode'],
  ['sales.currencyrate', 'FK_CurrencyRate_Currency_ToCurrencyCode', 'tocurrencycode', 'sales.currency', 'currencycode'],
  ['sales.customer', 'FK_Customer_Person_PersonID', 'personid', 'person.person', 'businessentityid'],
  ['sales.customer', 'FK_Customer_Store_StoreID', 'storeid', 'sales.store', 'businessentityid'],
  ['sales.customer', 'FK_Customer_SalesTerritory_TerritoryID', 'territoryid', 'sales.salesterritory', 'territoryid'],
  ['production.document', 'FK_Document_Employee_Owner', 'owner', 'humanresources.employee', 'businessentityid'],
  ['person.emailaddress', 'FK_EmailAddress_Person_BusinessEntityID', 'businessentityid', 'person.person', 'businessentityid'],
  ['humanresources.employee', 'FK_Employee_Person_BusinessEntityID', 'businessentityid', 'person.person', 'businessentityid'],
  [
    'humanresources.employeedepartmenthistory',
    'FK_EmployeeDepartmentHistory_Department_DepartmentID',
    'departmentid',
    'humanresources.department',
    'departmentid',
  ],
  [
    'humanresources.employeedepartmenthistory',
    'FK_EmployeeDepartmentHistory_Employee_BusinessEntityID',
    'businessentityid',
    'humanresources.employee',
    'businessentityid',
  ],
  ['humanresources.employeedepartmenthistory', 'FK_EmployeeDepartmentHistory_Shift_ShiftID', 'shiftid', 'humanresources.shift', 'shiftid'],
  [
    'humanresources.employeepayhistory',
    'FK_EmployeePayHistory_Employee_BusinessEntityID',
    'businessentityid',
    'humanresources.employee',
    'businessentityid',
  ],
  [
    'humanresources.jobcandidate',
    'FK_JobCandidate_Employee_BusinessEntityID',
    'businessentityid',
    'humanresources.employee',
    'businessentityid',
  ],
  ['person.password', 'FK_Password_Person_BusinessEntityID', 'businessentityid', 'person.person', 'businessentityid'],
  ['person.person', 'FK_Person_BusinessEntity_BusinessEntityID', 'businessentityid', 'person.businessentity', 'businessentityid'],
  ['sales.personcreditcard', 'FK_PersonCreditCard_Person_BusinessEntityID', 'businessentityid', 'person.person', 'businessentityid'],
  ['sales.personcreditcard', 'FK_PersonCreditCard_CreditCard_CreditCardID', 'creditcardid', 'sales.creditcard', 'creditcardid'],
  ['person.personphone', 'FK_PersonPhone_Person_BusinessEntityID', 'businessentityid', 'person.person', 'businessentityid'],
  [
    'person.personphone',
    'FK_PersonPhone_PhoneNumberType_PhoneNumberTypeID',
    'phonenumbertypeid',
    'person.phonenumbertype',
    'phonenumbertypeid',
  ],
  ['production.product', 'FK_Product_UnitMeasure_SizeUnitMeasureCode', 'sizeunitmeasurecode', 'production.unitmeasure', 'unitmeasurecode'],
  [
    'production.product',
    'FK_Product_UnitMeasure_WeightUnitMeasureCode',
    'weightunitmeasurecode',
    'production.unitmeasure',
    'unitmeasurecode',
  ],
  ['production.product', 'FK_Product_ProductModel_ProductModelID', 'productmodelid', 'production.productmodel', 'productmodelid'],
  [
    'production.product',
    'FK_Product_ProductSubcategory_ProductSubcategoryID',
    'productsubcategoryid',
    'production.productsubcategory',
    'productsubcategoryid',
  ],
  ['production.productcosthistory', 'FK_ProductCostHistory_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['production.productdocument', 'FK_ProductDocument_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['production.productdocument', 'FK_ProductDocument_Document_DocumentNode', 'documentnode', 'production.document', 'documentnode'],
  ['production.productinventory', 'FK_ProductInventory_Location_LocationID', 'locationid', 'production.location', 'locationid'],
  ['production.productinventory', 'FK_ProductInventory_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['production.productlistpricehistory', 'FK_ProductListPriceHistory_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'production.productmodelillustration',
    'FK_ProductModelIllustration_ProductModel_ProductModelID',
    'productmodelid',
    'production.productmodel',
    'productmodelid',
  ],
  [
    'production.productmodelillustration',
    'FK_ProductModelIllustration_Illustration_IllustrationID',
    'illustrationid',
    'production.illustration',
    'illustrationid',
  ],
  [
    'production.productmodelproductdescriptionculture',
    'FK_ProductModelProductDescriptionCulture_ProductDescription_Pro',
    'productdescriptionid',
    'production.productdescription',
    'productdescriptionid',
  ],
  [
    'production.productmodelproductdescriptionculture',
    'FK_ProductModelProductDescriptionCulture_Culture_CultureID',
    'cultureid',
    'production.culture',
    'cultureid',
  ],
  [
    'production.productmodelproductdescriptionculture',
    'FK_ProductModelProductDescriptionCulture_ProductModel_ProductMo',
    'productmodelid',
    'production.productmodel',
    'productmodelid',
  ],
  ['production.productproductphoto', 'FK_ProductProductPhoto_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'production.productproductphoto',
    'FK_ProductProductPhoto_ProductPhoto_ProductPhotoID',
    'productphotoid',
    'production.productphoto',
    'productphotoid',
  ],
  ['production.productreview', 'FK_ProductReview_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'production.productsubcategory',
    'FK_ProductSubcategory_ProductCategory_ProductCategoryID',
    'productcategoryid',
    'production.productcategory',
    'productcategoryid',
  ],
  ['purchasing.productvendor', 'FK_ProductVendor_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'purchasing.productvendor',
    'FK_ProductVendor_UnitMeasure_UnitMeasureCode',
    'unitmeasurecode',
    'production.unitmeasure',
    'unitmeasurecode',
  ],
  ['purchasing.productvendor', 'FK_ProductVendor_Vendor_BusinessEntityID', 'businessentityid', 'purchasing.vendor', 'businessentityid'],
  ['purchasing.purchaseorderdetail', 'FK_PurchaseOrderDetail_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'purchasing.purchaseorderdetail',
    'FK_PurchaseOrderDetail_PurchaseOrderHeader_PurchaseOrderID',
    'purchaseorderid',
    'purchasing.purchaseorderheader',
    'purchaseorderid',
  ],
  [
    'purchasing.purchaseorderheader',
    'FK_PurchaseOrderHeader_Employee_EmployeeID',
    'employeeid',
    'humanresources.employee',
    'businessentityid',
  ],
  ['purchasing.purchaseorderheader', 'FK_PurchaseOrderHeader_Vendor_VendorID', 'vendorid', 'purchasing.vendor', 'businessentityid'],
  [
    'purchasing.purchaseorderheader',
    'FK_PurchaseOrderHeader_ShipMethod_ShipMethodID',
    'shipmethodid',
    'purchasing.shipmethod',
    'shipmethodid',
  ],
  [
    'sales.salesorderdetail',
    'FK_SalesOrderDetail_SalesOrderHeader_SalesOrderID',
    'salesorderid',
    'sales.salesorderheader',
    'salesorderid',
    true,
  ],
  [
    'sales.salesorderdetail',
    'FK_SalesOrderDetail_SpecialOfferProduct_SpecialOfferIDProductID',
    'specialofferid, productid',
    'sales.specialofferproduct',
    'specialofferid, productid',
  ],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_Address_BillToAddressID', 'billtoaddressid', 'person.address', 'addressid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_Address_ShipToAddressID', 'shiptoaddressid', 'person.address', 'addressid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_CreditCard_CreditCardID', 'creditcardid', 'sales.creditcard', 'creditcardid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_CurrencyRate_CurrencyRateID', 'currencyrateid', 'sales.currencyrate', 'currencyrateid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_Customer_CustomerID', 'customerid', 'sales.customer', 'customerid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_SalesPerson_SalesPersonID', 'salespersonid', 'sales.salesperson', 'businessentityid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_ShipMethod_ShipMethodID', 'shipmethodid', 'purchasing.shipmethod', 'shipmethodid'],
  ['sales.salesorderheader', 'FK_SalesOrderHeader_SalesTerritory_TerritoryID', 'territoryid', 'sales.salesterritory', 'territoryid'],
  [
    'sales.salesorderheadersalesreason',
    'FK_SalesOrderHeaderSalesReason_SalesReason_SalesReasonID',
    'salesreasonid',
    'sales.salesreason',
    'salesreasonid',
  ],
  [
    'sales.salesorderheadersalesreason',
    'FK_SalesOrderHeaderSalesReason_SalesOrderHeader_SalesOrderID',
    'salesorderid',
    'sales.salesorderheader',
    'salesorderid',
    true,
  ],
  ['sales.salesperson', 'FK_SalesPerson_Employee_BusinessEntityID', 'businessentityid', 'humanresources.employee', 'businessentityid'],
  ['sales.salesperson', 'FK_SalesPerson_SalesTerritory_TerritoryID', 'territoryid', 'sales.salesterritory', 'territoryid'],
  [
    'sales.salespersonquotahistory',
    'FK_SalesPersonQuotaHistory_SalesPerson_BusinessEntityID',
    'businessentityid',
    'sales.salesperson',
    'businessentityid',
  ],
  ['sales.salestaxrate', 'FK_SalesTaxRate_StateProvince_StateProvinceID', 'stateprovinceid', 'person.stateprovince', 'stateprovinceid'],
  [
    'sales.salesterritory',
    'FK_SalesTerritory_CountryRegion_CountryRegionCode',
    'countryregioncode',
    'person.countryregion',
    'countryregioncode',
  ],
  [
    'sales.salesterritoryhistory',
    'FK_SalesTerritoryHistory_SalesPerson_BusinessEntityID',
    'businessentityid',
    'sales.salesperson',
    'businessentityid',
  ],
  [
    'sales.salesterritoryhistory',
    'FK_SalesTerritoryHistory_SalesTerritory_TerritoryID',
    'territoryid',
    'sales.salesterritory',
    'territoryid',
  ],
  ['sales.shoppingcartitem', 'FK_ShoppingCartItem_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['sales.specialofferproduct', 'FK_SpecialOfferProduct_Product_ProductID', 'productid', 'production.product', 'productid'],
  [
    'sales.specialofferproduct',
    'FK_SpecialOfferProduct_SpecialOffer_SpecialOfferID',
    'specialofferid',
    'sales.specialoffer',
    'specialofferid',
  ],
  [
    'person.stateprovince',
    'FK_StateProvince_CountryRegion_CountryRegionCode',
    'countryregioncode',
    'person.countryregion',
    'countryregioncode',
  ],
  ['person.stateprovince', 'FK_StateProvince_SalesTerritory_TerritoryID', 'territoryid', 'sales.salesterritory', 'territoryid'],
  ['sales.store', 'FK_Store_BusinessEntity_BusinessEntityID', 'businessentityid', 'person.businessentity', 'businessentityid'],
  ['sales.store', 'FK_Store_SalesPerson_SalesPersonID', 'salespersonid', 'sales.salesperson', 'businessentityid'],
  ['production.transactionhistory', 'FK_TransactionHistory_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['purchasing.vendor', 'FK_Vendor_BusinessEntity_BusinessEntityID', 'businessentityid', 'person.businessentity', 'businessentityid'],
  ['production.workorder', 'FK_WorkOrder_Product_ProductID', 'productid', 'production.product', 'productid'],
  ['production.workorder', 'FK_WorkOrder_ScrapReason_ScrapReasonID', 'scrapreasonid', 'production.scrapreason', 'scrapreasonid'],
  ['production.workorderrouting', 'FK_WorkOrderRouting_Location_LocationID', 'locationid', 'production.location', 'locationid'],
  ['production.workorderrouting', 'FK_WorkOrderRouting_WorkOrder_WorkOrderID', 'workorderid', 'production.workorder', 'workorderid'],
];

/** How many foreign keys the sample declares (AdventureWorks for PostgreSQL has the same set). */
export const ADVENTUREWORKS_FOREIGN_KEY_COUNT = FOREIGN_KEYS.length;

const FOREIGN_KEYS_SQL = FOREIGN_KEYS.map(
  ([table, name, columns, target, targetColumns, cascade]) =>
    `ALTER TABLE ${table} ADD CONSTRAINT "${name}" FOREIGN KEY (${columns}) REFERENCES ${target} (${targetColumns})${cascade ? ' ON DELETE CASCADE' : ''};`,
).join('\n');

const INDEXES_AND_VIEWS = `
CREATE UNIQUE INDEX "AK_Department_Name" ON humanresources.department (name);
CREATE UNIQUE INDEX "AK_Product_ProductNumber" ON production.product (productnumber);
CREATE UNIQUE INDEX "AK_SalesOrderHeader_rowguid" ON sales.salesorderheader (rowguid);
CREATE INDEX "IX_SalesOrderDetail_ProductID" ON sales.salesorderdetail (productid);
CREATE INDEX "IX_SalesOrderHeader_CustomerID" ON sales.salesorderheader (customerid);
CREATE INDEX "IX_Person_LastName_FirstName_MiddleName" ON person.person (lastname, firstname, middlename);
CLUSTER humanresources.department USING "PK_Department_DepartmentID";

CREATE VIEW humanresources.vemployeedepartment AS
SELECT e.businessentityid, p.title, p.firstname, p.middlename, p.lastname, p.suffix, e.jobtitle,
       d.name AS department, d.groupname, h.startdate
  FROM humanresources.employee e
  JOIN person.person p ON p.businessentityid = e.businessentityid
  JOIN humanresources.employeedepartmenthistory h ON h.businessentityid = e.businessentityid
  JOIN humanresources.department d ON d.departmentid = h.departmentid
 WHERE h.enddate IS NULL;

CREATE VIEW humanresources.vemployeedepartmenthistory AS
SELECT e.businessentityid, p.title, p.firstname, p.middlename, p.lastname, p.suffix,
       s.name AS shift, d.name AS department, d.groupname, h.startdate, h.enddate
  FROM humanresources.employee e
  JOIN person.person p ON p.businessentityid = e.businessentityid
  JOIN humanresources.employeedepartmenthistory h ON h.businessentityid = e.businessentityid
  JOIN humanresources.department d ON d.departmentid = h.departmentid
  JOIN humanresources.shift s ON s.shiftid = h.shiftid;

CREATE VIEW sales.vsalespersonsalesbyfiscalyears AS
SELECT * FROM crosstab(
  'SELECT soh.salespersonid, extract(year FROM soh.orderdate)::int, sum(soh.subtotal)
     FROM sales.salesorderheader soh WHERE soh.salespersonid IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2',
  'SELECT generate_series(2011, 2014)'
) AS t(salespersonid int, "2011" numeric, "2012" numeric, "2013" numeric, "2014" numeric);

-- Rows came with explicit ids: move every serial sequence past them, as a load with pg_restore leaves them.
DO $sync$
DECLARE
  col record;
BEGIN
  FOR col IN
    SELECT n.nspname, c.relname, a.attname, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS seq
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('humanresources', 'person', 'production', 'purchasing', 'sales') AND c.relkind = 'r'
       AND a.attnum > 0 AND NOT a.attisdropped
       AND pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) IS NOT NULL
  LOOP
    EXECUTE format('SELECT setval(%L, coalesce((SELECT max(%I) FROM %I.%I), 0) + 1, false)', col.seq, col.attname, col.nspname, col.relname);
  END LOOP;
END
$sync$;
ANALYZE;
`;

/** Foreign keys, indexes, views and sequence positions, run after the rows. */
export const ADVENTUREWORKS_KEYS_SQL = FOREIGN_KEYS_SQL + '\n' + INDEXES_AND_VIEWS;
