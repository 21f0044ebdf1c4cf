// The AdventureWorks schema as the PostgreSQL port of it has it (lorint/AdventureWorks-for-Postgres,
// read, not copied): its domains, the five schemas and their 68 tables with the same names, columns
// (after the port's conversions: hierarchyid as varchar, money as numeric) and primary keys. The
// checks the port carries are kept where the generated rows could break them by mistake.
import { PRODUCTION_TABLES_SQL, PURCHASING_TABLES_SQL } from './schemaProduction';
import { SALES_TABLES_SQL } from './schemaSales';

/** The schemas the Azure lab's database has, in the order the tables below are declared. */
export const ADVENTUREWORKS_SCHEMAS = ['humanresources', 'person', 'production', 'purchasing', 'sales'] as const;

const PRELUDE = `
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
-- sales.vsalespersonsalesbyfiscalyears pivots with crosstab(): the reason the lab allow-lists TABLEFUNC.
CREATE EXTENSION IF NOT EXISTS tablefunc;

CREATE DOMAIN "OrderNumber" varchar(25) NULL;
CREATE DOMAIN "AccountNumber" varchar(15) NULL;
CREATE DOMAIN "Flag" boolean NOT NULL;
CREATE DOMAIN "NameStyle" boolean NOT NULL;
CREATE DOMAIN "Name" varchar(50) NULL;
CREATE DOMAIN "Phone" varchar(25) NULL;

CREATE SCHEMA humanresources;
COMMENT ON SCHEMA humanresources IS 'Employees and departments.';
CREATE SCHEMA person;
COMMENT ON SCHEMA person IS 'Names and addresses of customers, vendors and employees.';
CREATE SCHEMA production;
COMMENT ON SCHEMA production IS 'Products, inventory and manufacturing.';
CREATE SCHEMA purchasing;
COMMENT ON SCHEMA purchasing IS 'Vendors and purchase orders.';
CREATE SCHEMA sales;
COMMENT ON SCHEMA sales IS 'Customers, sales orders and sales territories.';
`;

const HUMANRESOURCES = `
CREATE TABLE humanresources.department (
  departmentid serial,
  name "Name" NOT NULL,
  groupname "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Department_DepartmentID" PRIMARY KEY (departmentid)
);
CREATE TABLE humanresources.employee (
  businessentityid int NOT NULL,
  nationalidnumber varchar(15) NOT NULL,
  loginid varchar(256) NOT NULL,
  jobtitle varchar(50) NOT NULL,
  birthdate date NOT NULL,
  maritalstatus char(1) NOT NULL,
  gender char(1) NOT NULL,
  hiredate date NOT NULL,
  salariedflag "Flag" NOT NULL DEFAULT true,
  vacationhours smallint NOT NULL DEFAULT 0,
  sickleavehours smallint NOT NULL DEFAULT 0,
  currentflag "Flag" NOT NULL DEFAULT true,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  organizationnode varchar DEFAULT '/',
  CONSTRAINT "CK_Employee_MaritalStatus" CHECK (upper(maritalstatus) IN ('M', 'S')),
  CONSTRAINT "CK_Employee_Gender" CHECK (upper(gender) IN ('M', 'F')),
  CONSTRAINT "CK_Employee_VacationHours" CHECK (vacationhours BETWEEN -40 AND 240),
  CONSTRAINT "CK_Employee_SickLeaveHours" CHECK (sickleavehours BETWEEN 0 AND 120),
  CONSTRAINT "PK_Employee_BusinessEntityID" PRIMARY KEY (businessentityid)
);
CREATE TABLE humanresources.employeedepartmenthistory (
  businessentityid int NOT NULL,
  departmentid smallint NOT NULL,
  shiftid smallint NOT NULL,
  startdate date NOT NULL,
  enddate date NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_EmployeeDepartmentHistory_EndDate" CHECK (enddate >= startdate OR enddate IS NULL),
  CONSTRAINT "PK_EmployeeDepartmentHistory_BusinessEntityID_StartDate_Departm"
    PRIMARY KEY (businessentityid, startdate, departmentid, shiftid)
);
CREATE TABLE humanresources.employeepayhistory (
  businessentityid int NOT NULL,
  ratechangedate timestamp NOT NULL,
  rate numeric NOT NULL,
  payfrequency smallint NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_EmployeePayHistory_PayFrequency" CHECK (payfrequency IN (1, 2)),
  CONSTRAINT "CK_EmployeePayHistory_Rate" CHECK (rate BETWEEN 6.50 AND 200.00),
  CONSTRAINT "PK_EmployeePayHistory_BusinessEntityID_RateChangeDate" PRIMARY KEY (businessentityid, ratechangedate)
);
CREATE TABLE humanresources.jobcandidate (
  jobcandidateid serial,
  businessentityid int NULL,
  resume xml NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_JobCandidate_JobCandidateID" PRIMARY KEY (jobcandidateid)
);
CREATE TABLE humanresources.shift (
  shiftid serial,
  name "Name" NOT NULL,
  starttime time NOT NULL,
  endtime time NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Shift_ShiftID" PRIMARY KEY (shiftid)
);
`;

const PERSON = `
CREATE TABLE person.businessentity (
  businessentityid serial,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_BusinessEntity_BusinessEntityID" PRIMARY KEY (businessentityid)
);
CREATE TABLE person.person (
  businessentityid int NOT NULL,
  persontype char(2) NOT NULL,
  namestyle "NameStyle" NOT NULL DEFAULT false,
  title varchar(8) NULL,
  firstname "Name" NOT NULL,
  middlename "Name" NULL,
  lastname "Name" NOT NULL,
  suffix varchar(10) NULL,
  emailpromotion int NOT NULL DEFAULT 0,
  additionalcontactinfo xml NULL,
  demographics xml NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "CK_Person_EmailPromotion" CHECK (emailpromotion BETWEEN 0 AND 2),
  CONSTRAINT "CK_Person_PersonType" CHECK (persontype IS NULL OR upper(persontype) IN ('SC', 'VC', 'IN', 'EM', 'SP', 'GC')),
  CONSTRAINT "PK_Person_BusinessEntityID" PRIMARY KEY (businessentityid)
);
CREATE TABLE person.stateprovince (
  stateprovinceid serial,
  stateprovincecode char(3) NOT NULL,
  countryregioncode varchar(3) NOT NULL,
  isonlystateprovinceflag "Flag" NOT NULL DEFAULT true,
  name "Name" NOT NULL,
  territoryid int NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_StateProvince_StateProvinceID" PRIMARY KEY (stateprovinceid)
);
CREATE TABLE person.address (
  addressid serial,
  addressline1 varchar(60) NOT NULL,
  addressline2 varchar(60) NULL,
  city varchar(30) NOT NULL,
  stateprovinceid int NOT NULL,
  postalcode varchar(15) NOT NULL,
  spatiallocation bytea NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Address_AddressID" PRIMARY KEY (addressid)
);
CREATE TABLE person.addresstype (
  addresstypeid serial,
  name "Name" NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_AddressType_AddressTypeID" PRIMARY KEY (addresstypeid)
);
CREATE TABLE person.businessentityaddress (
  businessentityid int NOT NULL,
  addressid int NOT NULL,
  addresstypeid int NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_BusinessEntityAddress_BusinessEntityID_AddressID_AddressType"
    PRIMARY KEY (businessentityid, addressid, addresstypeid)
);
CREATE TABLE person.contacttype (
  contacttypeid serial,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_ContactType_ContactTypeID" PRIMARY KEY (contacttypeid)
);
CREATE TABLE person.businessentitycontact (
  businessentityid int NOT NULL,
  personid int NOT NULL,
  contacttypeid int NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_BusinessEntityContact_BusinessEntityID_PersonID_ContactTypeI"
    PRIMARY KEY (businessentityid, personid, contacttypeid)
);
CREATE TABLE person.emailaddress (
  businessentityid int NOT NULL,
  emailaddressid serial,
  emailaddress varchar(50) NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_EmailAddress_BusinessEntityID_EmailAddressID" PRIMARY KEY (businessentityid, emailaddressid)
);
CREATE TABLE person.password (
  businessentityid int NOT NULL,
  passwordhash varchar(128) NOT NULL,
  passwordsalt varchar(10) NOT NULL,
  rowguid uuid NOT NULL DEFAULT uuid_generate_v1(),
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_Password_BusinessEntityID" PRIMARY KEY (businessentityid)
);
CREATE TABLE person.phonenumbertype (
  phonenumbertypeid serial,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_PhoneNumberType_PhoneNumberTypeID" PRIMARY KEY (phonenumbertypeid)
);
CREATE TABLE person.personphone (
  businessentityid int NOT NULL,
  phonenumber "Phone" NOT NULL,
  phonenumbertypeid int NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_PersonPhone_BusinessEntityID_PhoneNumber_PhoneNumberTypeID"
    PRIMARY KEY (businessentityid, phonenumber, phonenumbertypeid)
);
CREATE TABLE person.countryregion (
  countryregioncode varchar(3) NOT NULL,
  name "Name" NOT NULL,
  modifieddate timestamp NOT NULL DEFAULT now(),
  CONSTRAINT "PK_CountryRegion_CountryRegionCode" PRIMARY KEY (countryregioncode)
);
`;

/** Extensions, domains, schemas and the 68 tables with their primary keys (no rows, no foreign keys). */
export const ADVENTUREWORKS_TABLES_SQL = [
  PRELUDE,
  HUMANRESOURCES,
  PERSON,
  PRODUCTION_TABLES_SQL,
  PURCHASING_TABLES_SQL,
  SALES_TABLES_SQL,
].join('');
