// The rows of the AdventureWorks sample: the reference tables with AdventureWorks' own values
// (the 16 departments the Azure lab counts, shifts, territories, ship methods, currencies...) and
// the rest generated from generate_series, so every load is identical and takes about a second.
// Every key a foreign key (keys.ts) points at exists: the generated ids are arranged so.

/** humanresources.department as AdventureWorks ships it; the lab reads 16 rows, then adds 17 'Logistics'. */
export const ADVENTUREWORKS_DEPARTMENTS: ReadonlyArray<readonly [name: string, groupName: string]> = [
  ['Engineering', 'Research and Development'],
  ['Tool Design', 'Research and Development'],
  ['Sales', 'Sales and Marketing'],
  ['Marketing', 'Sales and Marketing'],
  ['Purchasing', 'Inventory Management'],
  ['Research and Development', 'Research and Development'],
  ['Production', 'Manufacturing'],
  ['Production Control', 'Manufacturing'],
  ['Human Resources', 'Executive General and Administration'],
  ['Finance', 'Executive General and Administration'],
  ['Information Services', 'Executive General and Administration'],
  ['Document Control', 'Quality Assurance'],
  ['Quality Assurance', 'Quality Assurance'],
  ['Facilities and Maintenance', 'Executive General and Administration'],
  ['Shipping and Receiving', 'Inventory Management'],
  ['Executive', 'Executive General and Administration'],
];

/** A SQL string literal (the values here are this file's own constants). */
const text = (value: string): string => `'${value.replace(/'/g, "''")}'`;

const DEPARTMENTS = `
INSERT INTO humanresources.department (departmentid, name, groupname, modifieddate) VALUES
${ADVENTUREWORKS_DEPARTMENTS.map(([name, group], i) => `  (${i + 1}, ${text(name)}, ${text(group)}, '2008-04-30')`).join(',\n')};
`;

// Lookups with AdventureWorks' values. Sizes: 1,000 people (1-100 employees, 2-18 sales people),
// 100 stores (1001-1100), 100 vendors (1101-1200), 200 products, 3,000 sales orders.
const REFERENCE = `
INSERT INTO person.countryregion (countryregioncode, name, modifieddate) VALUES
  ('AU', 'Australia', '2008-04-30'), ('CA', 'Canada', '2008-04-30'), ('DE', 'Germany', '2008-04-30'),
  ('FR', 'France', '2008-04-30'), ('GB', 'United Kingdom', '2008-04-30'), ('US', 'United States', '2008-04-30');
INSERT INTO sales.salesterritory (territoryid, name, countryregioncode, "group", salesytd, saleslastyear, costytd, costlastyear, rowguid, modifieddate)
SELECT id, name, code, grp, 1000000 + id * 12345.67, 900000 + id * 9876.5, 0, 0, md5('territory' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 'Northwest', 'US', 'North America'), (2, 'Northeast', 'US', 'North America'), (3, 'Central', 'US', 'North America'),
               (4, 'Southwest', 'US', 'North America'), (5, 'Southeast', 'US', 'North America'), (6, 'Canada', 'CA', 'North America'),
               (7, 'France', 'FR', 'Europe'), (8, 'Germany', 'DE', 'Europe'), (9, 'Australia', 'AU', 'Pacific'),
               (10, 'United Kingdom', 'GB', 'Europe')) AS t(id, name, code, grp);
INSERT INTO person.stateprovince (stateprovinceid, stateprovincecode, countryregioncode, isonlystateprovinceflag, name, territoryid, rowguid, modifieddate)
SELECT id, code, country, false, name, territory, md5('state' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 'WA', 'US', 'Washington', 1), (2, 'OR', 'US', 'Oregon', 1), (3, 'NY', 'US', 'New York', 2), (4, 'IL', 'US', 'Illinois', 3),
               (5, 'CA', 'US', 'California', 4), (6, 'TX', 'US', 'Texas', 4), (7, 'FL', 'US', 'Florida', 5), (8, 'BC', 'CA', 'British Columbia', 6),
               (9, 'ON', 'CA', 'Ontario', 6), (10, '75', 'FR', 'Seine (Paris)', 7), (11, 'HH', 'DE', 'Hamburg', 8),
               (12, 'NSW', 'AU', 'New South Wales', 9), (13, 'ENG', 'GB', 'England', 10)) AS s(id, code, country, name, territory);
INSERT INTO person.addresstype (addresstypeid, name, rowguid, modifieddate)
SELECT id, name, md5('addresstype' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 'Billing'), (2, 'Home'), (3, 'Main Office'), (4, 'Primary'), (5, 'Shipping'), (6, 'Archive')) AS a(id, name);
INSERT INTO person.contacttype (contacttypeid, name, modifieddate) VALUES
  (1, 'Accounting Manager', '2008-04-30'), (2, 'Assistant Sales Agent', '2008-04-30'), (3, 'Owner', '2008-04-30'),
  (4, 'Purchasing Agent', '2008-04-30'), (5, 'Purchasing Manager', '2008-04-30'), (6, 'Sales Representative', '2008-04-30');
INSERT INTO person.phonenumbertype (phonenumbertypeid, name, modifieddate) VALUES
  (1, 'Cell', '2017-12-13'), (2, 'Home', '2017-12-13'), (3, 'Work', '2017-12-13');
INSERT INTO humanresources.shift (shiftid, name, starttime, endtime, modifieddate) VALUES
  (1, 'Day', '07:00', '15:00', '2008-04-30'), (2, 'Evening', '15:00', '23:00', '2008-04-30'), (3, 'Night', '23:00', '07:00', '2008-04-30');
INSERT INTO production.unitmeasure (unitmeasurecode, name, modifieddate) VALUES
  ('BOX', 'Boxes', '2008-04-30'), ('CM', 'Centimeter', '2008-04-30'), ('EA', 'Each', '2008-04-30'), ('G', 'Gram', '2008-04-30'),
  ('IN', 'Inch', '2008-04-30'), ('KG', 'Kilogram', '2008-04-30'), ('LB', 'US pound', '2008-04-30');
INSERT INTO production.culture (cultureid, name, modifieddate) VALUES
  ('', 'Invariant Language (Invariant Country)', '2008-04-30'), ('ar', 'Arabic', '2008-04-30'), ('en', 'English', '2008-04-30'),
  ('es', 'Spanish', '2008-04-30'), ('fr', 'French', '2008-04-30'), ('he', 'Hebrew', '2008-04-30'), ('th', 'Thai', '2008-04-30'),
  ('zh-cht', 'Chinese', '2008-04-30');
INSERT INTO production.productcategory (productcategoryid, name, rowguid, modifieddate)
SELECT id, name, md5('category' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 'Bikes'), (2, 'Components'), (3, 'Clothing'), (4, 'Accessories')) AS c(id, name);
INSERT INTO production.productsubcategory (productsubcategoryid, productcategoryid, name, rowguid, modifieddate)
SELECT id, category, name, md5('subcategory' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 1, 'Mountain Bikes'), (2, 1, 'Road Bikes'), (3, 1, 'Touring Bikes'), (4, 2, 'Handlebars'), (5, 2, 'Bottom Brackets'),
               (6, 2, 'Brakes'), (7, 3, 'Jerseys'), (8, 3, 'Shorts'), (9, 3, 'Socks'), (10, 4, 'Helmets'), (11, 4, 'Bottles and Cages'),
               (12, 4, 'Lights')) AS s(id, category, name);
INSERT INTO production.location (locationid, name, costrate, availability, modifieddate) VALUES
  (1, 'Tool Crib', 0, 0, '2008-04-30'), (2, 'Sheet Metal Racks', 0, 0, '2008-04-30'), (3, 'Paint Shop', 0, 0, '2008-04-30'),
  (4, 'Frame Forming', 22.50, 96, '2008-04-30'), (5, 'Frame Welding', 25.00, 108, '2008-04-30'), (6, 'Final Assembly', 12.25, 120, '2008-04-30');
INSERT INTO production.scrapreason (scrapreasonid, name, modifieddate) VALUES
  (1, 'Brake assembly not as ordered', '2008-04-30'), (2, 'Color incorrect', '2008-04-30'), (3, 'Drill pattern incorrect', '2008-04-30'),
  (4, 'Handling damage', '2008-04-30'), (5, 'Paint process failed', '2008-04-30');
INSERT INTO purchasing.shipmethod (shipmethodid, name, shipbase, shiprate, rowguid, modifieddate)
SELECT id, name, base, rate, md5('shipmethod' || id)::uuid, '2008-04-30'
  FROM (VALUES (1, 'XRQ - TRUCK GROUND', 3.95, 0.99), (2, 'ZY - EXPRESS', 9.95, 1.99), (3, 'OVERSEAS - DELUXE', 29.95, 2.99),
               (4, 'OVERNIGHT J-FAST', 21.95, 1.29), (5, 'CARGO TRANSPORT 5', 8.99, 1.49)) AS m(id, name, base, rate);
INSERT INTO sales.currency (currencycode, name, modifieddate) VALUES
  ('AUD', 'Australian Dollar', '2008-04-30'), ('CAD', 'Canadian Dollar', '2008-04-30'), ('EUR', 'EURO', '2008-04-30'),
  ('GBP', 'United Kingdom Pound', '2008-04-30'), ('USD', 'US Dollar', '2008-04-30');
INSERT INTO sales.countryregioncurrency (countryregioncode, currencycode, modifieddate) VALUES
  ('AU', 'AUD', '2014-02-08'), ('CA', 'CAD', '2014-02-08'), ('DE', 'EUR', '2014-02-08'), ('FR', 'EUR', '2014-02-08'),
  ('GB', 'GBP', '2014-02-08'), ('US', 'USD', '2014-02-08');
INSERT INTO sales.salesreason (salesreasonid, name, reasontype, modifieddate) VALUES
  (1, 'Price', 'Other', '2008-04-30'), (2, 'On Promotion', 'Promotion', '2008-04-30'), (3, 'Magazine Advertisement', 'Marketing', '2008-04-30'),
  (4, 'Television  Advertisement', 'Marketing', '2008-04-30'), (5, 'Manufacturer', 'Other', '2008-04-30'), (6, 'Review', 'Other', '2008-04-30'),
  (7, 'Demo Event', 'Marketing', '2008-04-30'), (8, 'Sponsorship', 'Marketing', '2008-04-30'), (9, 'Quality', 'Other', '2008-04-30'),
  (10, 'Other', 'Other', '2008-04-30');
INSERT INTO sales.specialoffer (specialofferid, description, discountpct, type, category, startdate, enddate, minqty, maxqty, rowguid, modifieddate)
SELECT id, d, pct, t, c, '2011-05-01', '2014-11-30', lo, hi, md5('offer' || id)::uuid, '2011-04-01'
  FROM (VALUES (1, 'No Discount', 0.00, 'No Discount', 'No Discount', 0, NULL),
               (2, 'Volume Discount 11 to 14', 0.02, 'Volume Discount', 'Reseller', 11, 14),
               (3, 'Volume Discount 15 to 24', 0.05, 'Volume Discount', 'Reseller', 15, 24),
               (4, 'Mountain-100 Clearance Sale', 0.35, 'Discontinued Product', 'Reseller', 0, NULL)) AS o(id, d, pct, t, c, lo, hi);
INSERT INTO sales.salestaxrate (salestaxrateid, stateprovinceid, taxtype, taxrate, name, rowguid, modifieddate)
SELECT g, g, 1 + g % 3, 5 + g % 4 * 1.25, 'Tax ' || g, md5('tax' || g)::uuid, '2008-04-30' FROM generate_series(1, 13) g;
`;

const PEOPLE = `
INSERT INTO person.businessentity (businessentityid, rowguid, modifieddate)
SELECT g, md5('entity' || g)::uuid, timestamp '2009-01-01' + g * interval '1 day' FROM generate_series(1, 1200) g;
INSERT INTO person.person (businessentityid, persontype, namestyle, title, firstname, middlename, lastname, suffix, emailpromotion,
                           additionalcontactinfo, demographics, rowguid, modifieddate)
SELECT g,
       CASE WHEN g BETWEEN 2 AND 18 THEN 'SP' WHEN g <= 100 THEN 'EM' ELSE (ARRAY['IN', 'IN', 'IN', 'SC', 'VC', 'GC'])[1 + g % 6] END,
       false, CASE g % 7 WHEN 0 THEN 'Mr.' WHEN 3 THEN 'Ms.' END,
       (ARRAY['Ken', 'Terri', 'Roberto', 'Rob', 'Gail', 'Jossef', 'Dylan', 'Diane', 'Gigi', 'Michael', 'Ovidiu', 'Thierry'])[1 + g % 12],
       CASE WHEN g % 3 = 0 THEN chr(65 + g % 26) END,
       (ARRAY['Sánchez', 'Duffy', 'Tamburello', 'Walters', 'Erickson', 'Goldberg', 'Miller', 'Margheim', 'Matthew', 'Raheem', 'Cracium', 'D''Hers'])[1 + g / 12 % 12],
       NULL, g % 3, NULL,
       CASE WHEN g > 100 AND g % 10 = 0 THEN xmlparse(document '<IndividualSurvey><TotalPurchaseYTD>' || (g * 7.25) || '</TotalPurchaseYTD></IndividualSurvey>') END,
       md5('person' || g)::uuid, timestamp '2009-01-07' + g * interval '1 day'
  FROM generate_series(1, 1000) g;
INSERT INTO person.address (addressid, addressline1, addressline2, city, stateprovinceid, postalcode, spatiallocation, rowguid, modifieddate)
SELECT g, (100 + g) || ' ' || (ARRAY['Main St.', 'Oak Drive', 'Pine Avenue', 'Lake Road', 'Hill Court'])[1 + g % 5],
       CASE WHEN g % 9 = 0 THEN 'Suite ' || g % 400 END,
       (ARRAY['Seattle', 'Portland', 'New York', 'Chicago', 'San Diego', 'Austin', 'Miami', 'Vancouver', 'Toronto', 'Paris', 'Hamburg', 'Sydney', 'London'])[1 + g % 13],
       1 + g % 13, lpad((g * 37 % 99999)::text, 5, '0'), NULL, md5('address' || g)::uuid, timestamp '2009-01-01' + g * interval '1 day'
  FROM generate_series(1, 1200) g;
INSERT INTO person.businessentityaddress (businessentityid, addressid, addresstypeid, rowguid, modifieddate)
SELECT g, g, CASE WHEN g <= 1000 THEN 2 WHEN g <= 1100 THEN 3 ELSE 4 END, md5('bea' || g)::uuid, '2014-09-12' FROM generate_series(1, 1200) g;
INSERT INTO person.businessentitycontact (businessentityid, personid, contacttypeid, rowguid, modifieddate)
SELECT g, 200 + (g - 1000), CASE WHEN g <= 1100 THEN 3 ELSE 4 END, md5('contact' || g)::uuid, '2017-12-13' FROM generate_series(1001, 1200) g;
INSERT INTO person.emailaddress (businessentityid, emailaddressid, emailaddress, rowguid, modifieddate)
SELECT p.businessentityid, p.businessentityid, lower(p.firstname) || p.businessentityid || '@adventure-works.com', md5('email' || p.businessentityid)::uuid, p.modifieddate
  FROM person.person p;
INSERT INTO person.password (businessentityid, passwordhash, passwordsalt, rowguid, modifieddate)
SELECT g, encode(sha256(('pw' || g)::bytea), 'base64'), left(md5('salt' || g), 8), md5('password' || g)::uuid, '2009-01-07' FROM generate_series(1, 1000) g;
INSERT INTO person.personphone (businessentityid, phonenumber, phonenumbertypeid, modifieddate)
SELECT g, lpad((200 + g % 700)::text, 3, '0') || '-555-0' || lpad((g % 1000)::text, 3, '0'), 1 + g % 3, '2009-01-07' FROM generate_series(1, 1000) g;

INSERT INTO humanresources.employee (businessentityid, nationalidnumber, loginid, jobtitle, birthdate, maritalstatus, gender, hiredate,
                                     salariedflag, vacationhours, sickleavehours, currentflag, rowguid, modifieddate, organizationnode)
SELECT g, (295847284 + g * 7919)::text, 'adventure-works\\' || lower(p.firstname) || g,
       CASE WHEN g = 1 THEN 'Chief Executive Officer' WHEN g <= 18 THEN 'Sales Representative'
            ELSE (ARRAY['Design Engineer', 'Production Technician - WC60', 'Buyer', 'Marketing Specialist', 'Accountant', 'Production Supervisor - WC40'])[1 + g % 6] END,
       date '1960-01-01' + (g * 97) % 9000, (ARRAY['M', 'S'])[1 + g % 2], (ARRAY['M', 'F'])[1 + g / 2 % 2], date '2007-01-05' + g * 13,
       g <= 18 OR g % 4 = 0, g % 100, 20 + g % 50, true, md5('employee' || g)::uuid, '2014-06-30',
       CASE WHEN g = 1 THEN '/' ELSE '/' || (1 + g % 6) || '/' || g || '/' END
  FROM generate_series(1, 100) g JOIN person.person p ON p.businessentityid = g;
INSERT INTO humanresources.employeedepartmenthistory (businessentityid, departmentid, shiftid, startdate, enddate, modifieddate)
SELECT e.businessentityid, CASE WHEN e.businessentityid = 1 THEN 16 WHEN e.businessentityid <= 18 THEN 3 ELSE 1 + e.businessentityid % 15 END,
       1 + e.businessentityid % 3, e.hiredate, NULL, e.hiredate
  FROM humanresources.employee e;
INSERT INTO humanresources.employeepayhistory (businessentityid, ratechangedate, rate, payfrequency, modifieddate)
SELECT e.businessentityid, e.hiredate, 10 + e.businessentityid % 50 * 1.75, 1 + e.businessentityid % 2, e.hiredate FROM humanresources.employee e;
INSERT INTO humanresources.jobcandidate (jobcandidateid, businessentityid, resume, modifieddate)
SELECT g, CASE WHEN g <= 2 THEN 40 + g * 10 END,
       xmlparse(document '<Resume><Name><Name.First>Candidate</Name.First><Name.Last>' || g || '</Name.Last></Name></Resume>'), '2013-12-22'
  FROM generate_series(1, 5) g;
`;

const PRODUCTS = `
INSERT INTO production.productmodel (productmodelid, name, catalogdescription, instructions, rowguid, modifieddate)
SELECT g, 'Model-' || (100 + g * 50), CASE WHEN g <= 3 THEN xmlparse(document '<ProductDescription><Summary>Model ' || g || '</Summary></ProductDescription>') END,
       NULL, md5('model' || g)::uuid, '2013-04-30' FROM generate_series(1, 20) g;
INSERT INTO production.productdescription (productdescriptionid, description, rowguid, modifieddate)
SELECT g, 'Light, durable and ready for the road: model ' || g || '.', md5('description' || g)::uuid, '2013-04-30' FROM generate_series(1, 20) g;
INSERT INTO production.productmodelproductdescriptionculture (productmodelid, productdescriptionid, cultureid, modifieddate)
SELECT g, g, 'en', '2013-04-30' FROM generate_series(1, 20) g;
INSERT INTO production.illustration (illustrationid, diagram, modifieddate)
SELECT g, xmlparse(document '<Diagram id="' || g || '"/>'), '2014-01-09' FROM generate_series(1, 3) g;
INSERT INTO production.productmodelillustration (productmodelid, illustrationid, modifieddate)
SELECT g, g, '2014-01-09' FROM generate_series(1, 3) g;
INSERT INTO production.product (productid, name, productnumber, makeflag, finishedgoodsflag, color, safetystocklevel, reorderpoint, standardcost,
                                listprice, size, sizeunitmeasurecode, weightunitmeasurecode, weight, daystomanufacture, productline, class, style,
                                productsubcategoryid, productmodelid, sellstartdate, sellenddate, discontinueddate, rowguid, modifieddate)
SELECT g, (ARRAY['Road', 'Mountain', 'Touring', 'Sport', 'HL', 'LL'])[1 + g % 6] || '-' || (100 + g * 5) || ' ' || (ARRAY['Frame', 'Wheel', 'Jersey', 'Helmet', 'Bottle'])[1 + g % 5],
       'PN-' || lpad(g::text, 4, '0'), g % 2 = 0, g > 50, (ARRAY['Black', 'Red', 'Silver', 'Blue', 'Yellow', NULL])[1 + g % 6],
       100 + g % 900, 75 + g % 500, round(g * 1.37, 4), round(g * 2.19, 4),
       CASE WHEN g % 4 = 0 THEN (38 + g % 12)::text END, CASE WHEN g % 4 = 0 THEN 'CM' END,
       CASE WHEN g % 3 = 0 THEN 'LB' END, CASE WHEN g % 3 = 0 THEN 1 + g % 30 END, g % 5,
       (ARRAY['R', 'M', 'T', 'S'])[1 + g % 4], (ARRAY['L', 'M', 'H', NULL])[1 + g % 4], (ARRAY['W', 'M', 'U', NULL])[1 + g % 4],
       CASE WHEN g > 10 THEN 1 + g % 12 END, 1 + g % 20, timestamp '2011-05-31' + (g % 800) * interval '1 day', NULL, NULL,
       md5('product' || g)::uuid, '2014-02-08'
  FROM generate_series(1, 200) g;
INSERT INTO production.productcosthistory (productid, startdate, enddate, standardcost, modifieddate)
SELECT p.productid, p.sellstartdate, NULL, p.standardcost, p.sellstartdate FROM production.product p;
INSERT INTO production.productlistpricehistory (productid, startdate, enddate, listprice, modifieddate)
SELECT p.productid, p.sellstartdate, NULL, p.listprice, p.sellstartdate FROM production.product p;
INSERT INTO production.productinventory (productid, locationid, shelf, bin, quantity, rowguid, modifieddate)
SELECT g, 1 + (g + k * 3) % 6, chr(65 + g % 26), g % 100, 10 + g * k % 500, md5('inventory' || g || '-' || k)::uuid, '2014-08-08'
  FROM generate_series(1, 200) g, generate_series(0, 1) k;
INSERT INTO production.productphoto (productphotoid, thumbnailphoto, thumbnailphotofilename, largephoto, largephotofilename, modifieddate)
SELECT g, decode(repeat(lpad(to_hex(g * 17), 2, '0'), 64), 'hex'), 'thumb_' || g || '.gif',
       decode(repeat(lpad(to_hex(g * 31), 2, '0'), 512), 'hex'), 'large_' || g || '.gif', '2013-04-30'
  FROM generate_series(1, 5) g;
INSERT INTO production.productproductphoto (productid, productphotoid, "primary", modifieddate)
SELECT g, 1 + g % 5, true, '2013-04-30' FROM generate_series(1, 200) g;
INSERT INTO production.productreview (productreviewid, productid, reviewername, reviewdate, emailaddress, rating, comments, modifieddate) VALUES
  (1, 7, 'John Smith', '2013-09-18', 'john@fourthcoffee.com', 5, 'Lightweight, and they kept my feet comfortable on a three-day ride.', '2013-09-18'),
  (2, 37, 'David', '2013-11-13', 'david@graphicdesigninstitute.com', 4, 'A little heavy, but easy to get in and out of in all conditions.', '2013-11-13'),
  (3, 37, 'Jill', '2013-11-15', 'jill@margiestravel.com', 2, 'I had a hard time getting used to these; any suggestions?', '2013-11-15'),
  (4, 98, 'Laura Norman', '2013-11-15', 'laura@treyresearch.net', 5, 'Built for a woman, with control and comfort in one package.', '2013-11-15');
INSERT INTO production.billofmaterials (billofmaterialsid, productassemblyid, componentid, startdate, enddate, unitmeasurecode, bomlevel, perassemblyqty, modifieddate)
SELECT g, 101 + (g - 1) % 100, 1 + (g - 1) % 100, '2010-05-26', NULL, 'EA', 1 + g % 3, 1 + g % 4, '2010-05-12' FROM generate_series(1, 100) g;
INSERT INTO production.document (title, owner, folderflag, filename, fileextension, revision, changenumber, status, documentsummary, document,
                                 rowguid, modifieddate, documentnode)
SELECT t, 20 + n, folder, f, CASE WHEN NOT folder THEN '.doc' ELSE '' END, '0', 0, 1 + n % 3,
       CASE WHEN NOT folder THEN 'How to ' || lower(t) || '.' END, CASE WHEN NOT folder THEN convert_to(t, 'UTF8') END,
       md5('document' || n)::uuid, '2013-12-29', node
  FROM (VALUES (1, '/', 'Documents', 'Documents', true), (2, '/1/', 'Overview', 'Overview.doc', false),
               (3, '/2/', 'Maintenance', 'Maintenance', true), (4, '/2/1/', 'Crank Arm and Tire Maintenance', 'Crank Arm and Tire Maintenance.doc', false),
               (5, '/2/2/', 'Lubrication Maintenance', 'Lubrication Maintenance.doc', false)) AS d(n, node, t, f, folder);
INSERT INTO production.productdocument (productid, modifieddate, documentnode)
SELECT g, '2013-12-29', CASE WHEN g % 2 = 0 THEN '/2/1/' ELSE '/2/2/' END FROM generate_series(1, 10) g;
INSERT INTO production.transactionhistory (transactionid, productid, referenceorderid, referenceorderlineid, transactiondate, transactiontype,
                                           quantity, actualcost, modifieddate)
SELECT 100000 + g, 1 + g % 200, 1 + g % 3000, g % 5, timestamp '2013-07-31' + g * interval '1 hour', (ARRAY['W', 'S', 'P'])[1 + g % 3],
       1 + g % 10, round(g % 400 * 1.1, 2), timestamp '2013-07-31' + g * interval '1 hour'
  FROM generate_series(1, 2000) g;
INSERT INTO production.transactionhistoryarchive (transactionid, productid, referenceorderid, referenceorderlineid, transactiondate, transactiontype,
                                                  quantity, actualcost, modifieddate)
SELECT g, 1 + g % 200, 1 + g % 3000, g % 5, timestamp '2011-04-16' + g * interval '1 hour', (ARRAY['W', 'S', 'P'])[1 + g % 3],
       1 + g % 10, round(g % 300 * 1.3, 2), timestamp '2011-04-16' + g * interval '1 hour'
  FROM generate_series(1, 2000) g;
INSERT INTO production.workorder (workorderid, productid, orderqty, scrappedqty, startdate, enddate, duedate, scrapreasonid, modifieddate)
SELECT g, 1 + g % 200, 1 + g % 20, CASE WHEN g % 25 = 0 THEN 1 ELSE 0 END, timestamp '2011-06-03' + g * interval '6 hours',
       timestamp '2011-06-13' + g * interval '6 hours', timestamp '2011-06-14' + g * interval '6 hours',
       CASE WHEN g % 25 = 0 THEN 1 + g % 5 END, timestamp '2011-06-13' + g * interval '6 hours'
  FROM generate_series(1, 1000) g;
INSERT INTO production.workorderrouting (workorderid, productid, operationsequence, locationid, scheduledstartdate, scheduledenddate,
                                         actualstartdate, actualenddate, actualresourcehrs, plannedcost, actualcost, modifieddate)
SELECT w.workorderid, w.productid, 1, 1 + w.workorderid % 6, w.startdate, w.duedate, w.startdate, w.enddate, 4.1, 92.25, 92.25, w.modifieddate
  FROM production.workorder w;
`;

const PURCHASES = `
INSERT INTO purchasing.vendor (businessentityid, accountnumber, name, creditrating, preferredvendorstatus, activeflag, purchasingwebserviceurl, modifieddate)
SELECT 1100 + g, 'VENDOR' || lpad(g::text, 4, '0'), (ARRAY['Bike Shop', 'Cycling', 'Sport Parts', 'Components Inc.'])[1 + g % 4] || ' ' || g,
       1 + g % 5, g % 3 <> 0, g % 10 <> 0, CASE WHEN g % 20 = 0 THEN 'www.vendor' || g || '.com/' END, '2011-12-23'
  FROM generate_series(1, 100) g;
INSERT INTO purchasing.productvendor (productid, businessentityid, averageleadtime, standardprice, lastreceiptcost, lastreceiptdate, minorderqty,
                                      maxorderqty, onorderqty, unitmeasurecode, modifieddate)
SELECT g, 1101 + g % 100, 15 + g % 10, round(10 + g * 0.85, 4), round(10.5 + g * 0.89, 4), '2011-08-29', 1, 100 + g % 900,
       CASE WHEN g % 3 = 0 THEN g % 50 END, 'EA', '2011-08-29'
  FROM generate_series(1, 200) g;
INSERT INTO purchasing.purchaseorderheader (purchaseorderid, revisionnumber, status, employeeid, vendorid, shipmethodid, orderdate, shipdate,
                                            subtotal, taxamt, freight, modifieddate)
SELECT g, 4, 1 + g % 4, 19 + g % 20, 1101 + g % 100, 1 + g % 5, timestamp '2011-04-16' + g * interval '1 day',
       timestamp '2011-04-25' + g * interval '1 day', round(g * 31.7, 4), round(g * 2.536, 4), round(g * 0.79, 4), timestamp '2011-04-25' + g * interval '1 day'
  FROM generate_series(1, 400) g;
INSERT INTO purchasing.purchaseorderdetail (purchaseorderid, purchaseorderdetailid, duedate, orderqty, productid, unitprice, receivedqty,
                                            rejectedqty, modifieddate)
SELECT 1 + (g - 1) % 400, g, timestamp '2011-04-30' + g * interval '12 hours', 1 + g % 10, 1 + g % 200, round(g % 100 * 0.9 + 1, 4),
       1 + g % 10, 0, timestamp '2011-04-23' + g * interval '12 hours'
  FROM generate_series(1, 800) g;
`;

const SALES = `
INSERT INTO sales.salesperson (businessentityid, territoryid, salesquota, bonus, commissionpct, salesytd, saleslastyear, rowguid, modifieddate)
SELECT g, CASE WHEN g > 4 THEN 1 + g % 10 END, CASE WHEN g > 4 THEN 250000 + g % 4 * 50000 END, g % 5 * 500, CASE WHEN g > 4 THEN 0.015 ELSE 0 END,
       round(500000 + g * 73456.25, 4), round(400000 + g * 51234.5, 4), md5('salesperson' || g)::uuid, '2012-05-24'
  FROM generate_series(2, 18) g;
INSERT INTO sales.salespersonquotahistory (businessentityid, quotadate, salesquota, rowguid, modifieddate)
SELECT s.businessentityid, timestamp '2012-01-01' + q * interval '3 months', 100000 + s.businessentityid * 1000 + q * 5000,
       md5('quota' || s.businessentityid || '-' || q)::uuid, '2012-04-16'
  FROM sales.salesperson s, generate_series(0, 3) q;
INSERT INTO sales.salesterritoryhistory (businessentityid, territoryid, startdate, enddate, rowguid, modifieddate)
SELECT s.businessentityid, s.territoryid, '2012-05-31', NULL, md5('territoryhistory' || s.businessentityid)::uuid, '2012-05-24'
  FROM sales.salesperson s WHERE s.territoryid IS NOT NULL;
INSERT INTO sales.store (businessentityid, name, salespersonid, demographics, rowguid, modifieddate)
SELECT 1000 + g, (ARRAY['Next-Door Bike Store', 'Professional Sales and Service', 'Riders Company', 'The Bike Mechanics', 'Fun Toys and Bikes'])[1 + g % 5] || ' ' || g,
       2 + g % 17, NULL, md5('store' || g)::uuid, '2014-09-12'
  FROM generate_series(1, 100) g;
INSERT INTO sales.customer (customerid, personid, storeid, territoryid, rowguid, modifieddate)
SELECT g, CASE WHEN g <= 900 THEN 100 + g ELSE 200 + (g - 900) END, CASE WHEN g > 900 THEN 1000 + (g - 900) END, 1 + g % 10,
       md5('customer' || g)::uuid, '2014-09-12'
  FROM generate_series(1, 1000) g;
INSERT INTO sales.creditcard (creditcardid, cardtype, cardnumber, expmonth, expyear, modifieddate)
SELECT g, (ARRAY['SuperiorCard', 'Distinguish', 'ColonialVoice', 'Vista'])[1 + g % 4], '3333' || lpad((g * 7919)::text, 10, '0'),
       1 + g % 12, 2005 + g % 4, '2013-07-29'
  FROM generate_series(1, 500) g;
INSERT INTO sales.personcreditcard (businessentityid, creditcardid, modifieddate) SELECT 100 + g, g, '2013-07-29' FROM generate_series(1, 500) g;
INSERT INTO sales.currencyrate (currencyrateid, currencyratedate, fromcurrencycode, tocurrencycode, averagerate, endofdayrate, modifieddate)
SELECT g, timestamp '2011-05-31' + g * interval '1 day', 'USD', (ARRAY['AUD', 'CAD', 'EUR', 'GBP'])[1 + g % 4],
       round(1.0 + g % 4 * 0.1 + g * 0.0007, 4), round(1.0 + g % 4 * 0.1 + g * 0.0008, 4), timestamp '2011-05-31' + g * interval '1 day'
  FROM generate_series(1, 60) g;
INSERT INTO sales.specialofferproduct (specialofferid, productid, rowguid, modifieddate)
SELECT 1, g, md5('offerproduct1-' || g)::uuid, timestamp '2011-04-01' FROM generate_series(1, 200) g
UNION ALL
SELECT 2, g, md5('offerproduct2-' || g)::uuid, timestamp '2011-04-01' FROM generate_series(1, 50) g;
INSERT INTO sales.salesorderheader (salesorderid, revisionnumber, orderdate, duedate, shipdate, status, onlineorderflag, purchaseordernumber,
                                    accountnumber, customerid, salespersonid, territoryid, billtoaddressid, shiptoaddressid, shipmethodid,
                                    creditcardid, creditcardapprovalcode, currencyrateid, subtotal, taxamt, freight, totaldue, comment,
                                    rowguid, modifieddate)
SELECT 43658 + g, 8, o.orderdate, o.orderdate + interval '12 days', o.orderdate + interval '7 days', 5, c.storeid IS NULL,
       CASE WHEN c.storeid IS NOT NULL THEN 'PO' || (5000 + g * 13) END, '10-4020-' || lpad(c.customerid::text, 6, '0'),
       c.customerid, CASE WHEN c.storeid IS NOT NULL THEN 2 + g % 17 END, c.territoryid,
       coalesce(c.storeid, c.personid), coalesce(c.storeid, c.personid), CASE WHEN c.storeid IS NULL THEN 1 ELSE 5 END,
       CASE WHEN g % 3 <> 0 THEN 1 + g % 500 END, CASE WHEN g % 3 <> 0 THEN g || 'Vi' || (g * 31 % 9999) END,
       CASE WHEN g % 4 = 0 THEN 1 + g % 60 END, o.subtotal, round(o.subtotal * 0.08, 4), round(o.subtotal * 0.025, 4),
       round(o.subtotal * 1.105, 4), NULL, md5('order' || g)::uuid, o.orderdate + interval '7 days'
  FROM generate_series(1, 3000) g
  JOIN sales.customer c ON c.customerid = 1 + g % 1000
  CROSS JOIN LATERAL (SELECT timestamp '2011-05-31' + (g / 3) * interval '1 day' AS orderdate, round(20 + g % 997 * 3.49, 4) AS subtotal) o;
INSERT INTO sales.salesorderdetail (salesorderid, salesorderdetailid, carriertrackingnumber, orderqty, productid, specialofferid, unitprice,
                                    unitpricediscount, rowguid, modifieddate)
SELECT 43659 + (g - 1) % 3000, g, CASE WHEN g % 2 = 0 THEN upper(left(md5('track' || g), 12)) END, 1 + g % 5, p, o,
       round(p * 2.19, 4), CASE WHEN o = 2 THEN 0.02 ELSE 0 END, md5('orderline' || g)::uuid, timestamp '2011-05-31' + (g / 9) * interval '1 day'
  FROM generate_series(1, 9000) g
  CROSS JOIN LATERAL (SELECT 1 + g % 200 AS p) pr
  CROSS JOIN LATERAL (SELECT CASE WHEN pr.p <= 50 AND g % 7 = 0 THEN 2 ELSE 1 END AS o) so;
INSERT INTO sales.salesorderheadersalesreason (salesorderid, salesreasonid, modifieddate)
SELECT 43658 + g, 1 + g % 10, '2011-06-07' FROM generate_series(1, 3000) g;
INSERT INTO sales.shoppingcartitem (shoppingcartitemid, shoppingcartid, quantity, productid, datecreated, modifieddate) VALUES
  (2, '14951', 3, 86, '2013-11-09 17:54:07', '2013-11-09 17:54:07'), (4, '20621', 4, 88, '2013-11-09 17:54:07', '2013-11-09 17:54:07'),
  (5, '20621', 7, 87, '2013-11-09 17:54:07', '2013-11-09 17:54:07');
`;

/** Every row of the sample, inserted with explicit ids (keys.ts moves the sequences past them). */
export const ADVENTUREWORKS_ROWS_SQL = [DEPARTMENTS, REFERENCE, PEOPLE, PRODUCTS, PURCHASES, SALES].join('');
