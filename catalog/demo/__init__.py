"""The demo catalog behind `manage.py seed_demo`: data tables, generated pictures and the seeder."""
