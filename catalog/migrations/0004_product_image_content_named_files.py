# Product images are validated when uploaded and stored under their content hash (catalog/fields.py).
# Schema-wise nothing changes: the column stays a varchar; existing names keep working.

import catalog.fields
import catalog.models
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0003_pictures_follow_the_look_option'),
    ]

    operations = [
        migrations.AlterField(
            model_name='productimage',
            name='image',
            field=catalog.fields.ProductImageField(height_field='height', upload_to=catalog.models.product_image_path, verbose_name='image', width_field='width'),
        ),
    ]
