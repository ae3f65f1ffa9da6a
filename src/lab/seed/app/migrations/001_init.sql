-- Initial schema (see the Payload migrations table for what ran)
CREATE TABLE IF NOT EXISTS cycles (id serial PRIMARY KEY, name varchar NOT NULL, slug varchar UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS campuses (id serial PRIMARY KEY, name varchar NOT NULL, slug varchar UNIQUE NOT NULL);
